-- cluster.lua — the `cluster` module: gilrun workers and clients on
-- Celery's task protocol over Redis, so Python Celery and gilrun share one
-- cluster (README, "Cluster").
--
--   cluster.task(name, fn [, {max_retries=, retry_delay=, time_limit=}])
--       registers a task for `gilrun worker tasks.lua` (returns fn)
--   local app = cluster.connect{broker = "redis://HOST:PORT/DB"
--                               [, backend = "redis://...", queue = "celery",
--                                retry_for = 30]}
--   app:send_task(name, args [, {queue=, countdown=, eta=, expires=, retries=,
--                 retry_countdown=, time_limit=, soft_time_limit=, priority=,
--                 kwargs=}])  --> a futures future (f.task_id is its id)
--   app:async_result(id) --> a future for a task sent elsewhere
--   app:executor([opts]) --> ex:submit(fn, ...), ex:map(fn, list), ex:shutdown()
--   app:close()   (also <close>)
--   cluster.object([t]) -- a table that encodes as a JSON object even empty
--   cluster.null        -- JSON null inside an array
--
-- The parts: protocol.lua (the task message), broker.lua (kombu's Redis
-- transport: queues, acknowledgement emulation), backend.lua (results),
-- client.lua (send_task, executor), worker.lua (a worker process); core.cpp
-- is the C++ below them (Redis connections, JSON, base64).
local core = require "cluster.core"
local protocol = require "cluster.protocol"
local client = require "cluster.client"

local M = {}

-- The tasks registered in this interpreter (a worker's tasks.lua).
M.tasks = {}

function M.task(name, fn, opts)
  if type(name) ~= "string" or name == "" then error("bad argument #1 to 'task' (task name expected)", 2) end
  if type(fn) ~= "function" then error(("bad argument #2 to 'task' (function expected, got %s)"):format(type(fn)), 2) end
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #3 to 'task' (table of options expected)", 2) end
  if name == protocol.CALL_TASK then error(("task: the name %s is reserved"):format(name), 2) end
  M.tasks[name] = {fn = fn, opts = opts or {}}
  return fn
end

M.connect = client.connect
M.object = protocol.object
M.null = core.null
M.CALL_TASK = protocol.CALL_TASK

return M
