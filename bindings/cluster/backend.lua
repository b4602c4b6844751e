-- cluster/backend.lua — Celery's Redis result backend: where a task's
-- outcome is stored and how a waiter hears of it.
--
-- Notes (celery/backends/redis.py and base.py's KeyValueStoreBackend, 5.2;
-- checked with redis-cli MONITOR against a Celery 5.2.6 worker)
-- -------------------------------------------------------------------------
-- A task's outcome is one JSON object under "celery-task-meta-<id>":
--   {"status": "SUCCESS", "result": <the value>, "traceback": null,
--    "children": [], "date_done": "2026-12-02T03:43:37.333027",
--    "task_id": "<id>"}
-- written with the result's expiry (result_expires, one day) and published
-- on the channel of the same name, in one transaction:
--   MULTI; SETEX celery-task-meta-<id> 86400 <meta>;   (gilrun: one EVAL, below)
--          PUBLISH celery-task-meta-<id> <meta>; EXEC
-- A Celery client SUBSCRIBEs to that channel and GETs the key (the result
-- may be there before it subscribed).
-- status is one of PENDING (never stored), STARTED, RETRY, SUCCESS,
-- FAILURE, REVOKED; only the last three are final. A FAILURE's result is the
-- exception as {"exc_type", "exc_message": [args...], "exc_module"} and its
-- traceback text beside it; Celery rebuilds the exception from that
-- (celery.backends.base.exception_to_python). gilrun reports a Lua error as
-- exc_type "LuaError" (exc_module null: Celery makes the class on the
-- fly), a hard time limit as billiard's TimeLimitExceeded and an expired
-- task as REVOKED with TaskRevokedError("expired"), as Celery does.
--
-- A Lua error's traceback is debug.traceback's, the message first; the
-- client raises "<message>\nworker stack traceback:\n...". Any other
-- traceback (a Python worker's) follows "(remote traceback)".
--
-- A gilrun.call task's results are Lua values, which may not map to JSON:
-- its meta carries "result": base64 of the value codec's bytes and
-- "gilrun_codec": true (a key Celery ignores).
local core = require "cluster.core"
local protocol = require "cluster.protocol"

local M = {}

M.PREFIX = "celery-task-meta-"
M.EXPIRES = 86400
M.FINAL = {SUCCESS = true, FAILURE = true, REVOKED = true}

function M.key(id) return M.PREFIX .. id end

-- meta() is the stored text; result_text is already JSON.
local function meta(id, status, result_text, traceback, extra)
  return ('{"status": %s, "result": %s, "traceback": %s, "children": [], "date_done": %s, "task_id": %s%s}')
    :format(protocol.json(status), result_text, traceback and protocol.json(traceback) or "null",
            protocol.json(protocol.format_time(core.now(), false)), protocol.json(id), extra or "")
end

-- A stored SUCCESS is never replaced (Celery's _store_result reads the key
-- first for the same reason): a task delivered twice — a worker lost after
-- it stored the result but before its ack, or a run longer than the
-- visibility timeout — must not turn a success its client may already have
-- seen into the second run's failure. Read, compare and write in one
-- server-side script, so two workers finishing together cannot race.
local STORE_UNLESS_SUCCESS = [[
local old = redis.call('GET', KEYS[1])
if old then
  local ok, m = pcall(cjson.decode, old)
  if ok and type(m) == 'table' and m.status == 'SUCCESS' then return 0 end
end
redis.call('SETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', KEYS[1], ARGV[2])
return 1]]

-- store() writes and publishes an outcome through `link` (broker.lua's
-- Link); false if a SUCCESS was there already (nothing is written).
function M.store(link, id, status, result_text, traceback, extra)
  local text = meta(id, status, result_text, traceback, extra)
  return link:call("EVAL", STORE_UNLESS_SUCCESS, "1", M.key(id), tostring(M.EXPIRES), text) == 1
end

-- exception() is the JSON of an exception as Celery stores it.
function M.exception(exc_type, message, module)
  return ('{"exc_type": %s, "exc_message": [%s], "exc_module": %s}')
    :format(protocol.json(exc_type), protocol.json(message), module and protocol.json(module) or "null")
end

-- success() stores a JSON task's value, or a gilrun.call task's values.
function M.success(link, id, results, gilrun)
  if gilrun then
    local bytes, err = core.encode("results", table.unpack(results, 1, results.n))
    if not bytes then error(err, 0) end
    M.store(link, id, "SUCCESS", protocol.json(core.b64encode(bytes)), nil, ', "gilrun_codec": true')
  else
    M.store(link, id, "SUCCESS", protocol.json(results[1], "result"))
  end
end

function M.failure(link, id, message, traceback, exc_type, exc_module)
  M.store(link, id, "FAILURE", M.exception(exc_type or "LuaError", message, exc_module), traceback)
end

-- outcome() reads a stored meta text: nil if the task is not finished;
-- else true, values... (a table with n) or false, error text.
function M.outcome(text)
  local ok, m = core.json_decode(text)
  if not ok or type(m) ~= "table" then return false, "bad result metadata: " .. tostring(m) end
  if not M.FINAL[m.status] then return nil end
  if m.status == "SUCCESS" then
    if m.gilrun_codec then
      local bytes = core.b64decode(m.result or "")
      local values = table.pack(core.decode(bytes or ""))
      if not values[1] then return false, "cannot decode the task's results: " .. tostring(values[2]) end
      return true, table.pack(table.unpack(values, 2, values.n))
    end
    return true, table.pack(m.result)
  end
  local exc = type(m.result) == "table" and m.result or {}
  local msgs = type(exc.exc_message) == "table" and exc.exc_message or {exc.exc_message}
  local parts = {}
  for i = 1, #msgs do parts[i] = type(msgs[i]) == "string" and msgs[i] or (core.json_encode(msgs[i]) or tostring(msgs[i])) end
  local message = table.concat(parts, ", ")
  local kind = exc.exc_type or m.status
  local text
  if kind == "LuaError" then
    text = message
  elseif m.status == "REVOKED" then
    text = ("task %s was revoked (%s)"):format(m.task_id or "?", message ~= "" and message or "revoked")
  else
    text = ("%s: %s"):format(kind, message)
  end
  local tb = m.traceback
  if type(tb) == "string" and tb ~= "" then
    if kind == "LuaError" and tb:sub(1, #message) == message then  -- a gilrun worker's
      text = message .. tb:sub(#message + 1):gsub("^\nstack traceback:", "\nworker stack traceback:")
    else
      text = text .. "\n(remote traceback)\n" .. tb
    end
  end
  return false, text
end

return M
