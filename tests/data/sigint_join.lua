-- Ctrl-C target: the main thread waits in join() while a daemon thread
-- holds the GIL in a busy loop.
local thread = require "thread"
local sync = require "sync"
local running = sync.event()
local h = thread.spawn{function()
  running:set()
  while true do end
end, daemon = true, name = "busy"}
running:wait()
print("ready")
io.stdout:flush()
h:join()
