-- Ctrl-C target: the main thread waits on a future whose task never ends
-- (it waits on a queue nobody puts to), in the futures wait named by arg[1]:
-- "result", "wait" or "as_completed". The pool's threads are daemons, so
-- once the wait is interrupted nothing holds up the end of the script.
local futures = require "futures"
local queue = require "queue"
local never = queue.new()
local ex = futures.thread_pool(1)
local f = ex:submit(function() return never:get() end)
local waits = {
  result = function() return f:result() end,
  wait = function() return futures.wait({f}) end,
  as_completed = function() for g in futures.as_completed({f}) do return g end end,
}
local wait = assert(waits[arg[1]], "usage: sigint_future.lua result|wait|as_completed")
print("ready")
io.stdout:flush()
wait()
print("returned")
