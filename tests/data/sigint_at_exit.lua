-- Ctrl-C target: the main chunk ends at once; the program waits at exit for
-- a non-daemon thread that spins forever.
local thread = require "thread"
local sync = require "sync"
local running = sync.event()
thread.spawn{function()
  running:set()
  while true do end
end, name = "busy"}
running:wait()
print("ready")
io.stdout:flush()
