-- Ctrl-C target: a non-daemon thread spins forever. The first Ctrl-C stops
-- the main chunk (a traceback); the program then waits for the thread at
-- exit, and only a second Ctrl-C ends it.
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
while true do end
