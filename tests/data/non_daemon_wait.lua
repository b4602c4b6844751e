-- A non-daemon thread still has work to do when the main chunk ends:
-- the process must wait for it and its output must appear.
local thread = require "thread"
local sync = require "sync"
local go = sync.event()
thread.spawn{function()
  go:wait()
  local x = 0
  for i = 1, 3000000 do x = x + i end  -- keeps running after the chunk ends
  print("thread done " .. x)
end, name = "late"}
print("main done")
go:set()  -- the last statement: the thread runs on after the chunk
