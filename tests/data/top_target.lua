-- top_target.lua — a target for `gilrun top` tests: two CPU-bound threads
-- ("cpu-a", "cpu-b") share the GIL until standard input closes. Prints
-- "ready" once both threads have run.
local thread = require "thread"

local stop = false
local running = 0
local function spin()
  running = running + 1
  local n = 0
  while not stop do n = n + 1 end
  return n
end
local a = thread.spawn{spin, name = "cpu-a"}
local b = thread.spawn{spin, name = "cpu-b"}
while running < 2 do end  -- the GIL preempts this loop for them
io.write("ready\n")
io.flush()
io.read("a")  -- until stdin closes (the read releases the GIL)
stop = true
a:join(); b:join()
