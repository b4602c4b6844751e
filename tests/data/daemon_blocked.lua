-- Daemon threads blocked forever (an event nobody sets, a queue nobody fills,
-- a long sleep, a busy loop): the process must not wait for them.
local thread = require "thread"
local sync = require "sync"
local queue = require "queue"
local time = require "time"
local never = sync.event()
local empty = queue.new()
local started = sync.semaphore(0)
thread.spawn{function() started:release(); never:wait() end, daemon = true, name = "event"}
thread.spawn{function() started:release(); empty:get() end, daemon = true, name = "queue"}
thread.spawn{function() started:release(); time.sleep(3600) end, daemon = true, name = "sleeper"}
thread.spawn{function() started:release(); while true do end end, daemon = true, name = "spinner"}
for _ = 1, 4 do started:acquire() end
print("main done")
