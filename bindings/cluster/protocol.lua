-- cluster/protocol.lua — Celery's task message (message protocol v2) in the
-- envelope kombu's Redis transport puts on a queue, and the times in it.
--
-- Notes (the spec, and what Celery 5.2.6 / kombu 5.2.4 were seen to write)
-- -------------------------------------------------------------------------
-- Celery's docs/internals/protocol.rst ("Version 2") defines a task message
-- as properties + headers + body, where body = [args, kwargs, embed] and
-- embed = {callbacks, errbacks, chain, chord}. kombu's virtual transport
-- (kombu/transport/virtual/base.py, Channel.prepare_message and
-- encode_body) wraps it for Redis as one JSON object, and Redis's transport
-- (kombu/transport/redis.py, Channel._put) LPUSHes that text onto the queue:
--
--   {"body": base64(body bytes), "content-encoding": "utf-8",
--    "content-type": "application/json",
--    "headers": {"lang", "task", "id", "shadow", "eta", "expires", "group",
--                "group_index", "retries", "timelimit": [hard, soft],
--                "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin",
--                "ignore_result"},
--    "properties": {"correlation_id": id, "reply_to", "delivery_mode": 2,
--                   "delivery_info": {"exchange": "", "routing_key": queue},
--                   "priority", "body_encoding": "base64",
--                   "delivery_tag": uuid4, ["expiration": ms as text]}}
--
-- Checked against Python Celery itself (redis-cli MONITOR while
-- `app.send_task` and `add.apply_async((4,5), priority=5, expires=60,
-- time_limit=30, soft_time_limit=20)` ran): timelimit is
-- [time_limit, soft_time_limit] — hard first, whatever protocol.rst's
-- "(soft, hard)" says; eta and expires are ISO 8601 with "+00:00"; the
-- default exchange is "" with the queue as routing key; "expiration" is the
-- expires in milliseconds as a string; the delivery tag is a fresh uuid4.
--
-- Bodies. application/json is what Celery sends by default and what every
-- peer reads. application/x-msgpack bodies (Celery's msgpack serializer,
-- task_serializer = "msgpack") are read too (runtime/cluster/
-- msgpack_value.h); gilrun sends JSON and stores results as JSON. gilrun's own
-- "gilrun.call" tasks (Lua functions, from app:executor()) carry the value
-- codec's bytes (runtime/codec: MessagePack with gilrun's extensions for
-- functions and shared tables) under content type
-- application/x-gilrun-value, so a Python worker refuses them by content
-- type instead of misreading them.
local core = require "cluster.core"

local M = {}

M.JSON = "application/json"
M.MSGPACK = "application/x-msgpack"
M.GILRUN = "application/x-gilrun-value"
M.CALL_TASK = "gilrun.call"  -- the reserved name of a Lua function task

-- object() marks a table as a JSON object (so an empty one is {} not []).
local object_mt = {__json = "object"}
function M.object(t) return setmetatable(t or {}, object_mt) end

-- json() encodes v or raises the encoder's message (naming the path).
function M.json(v, root, level)
  local text, err = core.json_encode(v, root)
  if not text then error(err, 0) end
  return text
end

function M.unjson(text, what)
  local ok, v = core.json_decode(text)
  if not ok then error(("%s: %s"):format(what or "message", v), 0) end
  return v
end

---------------------------------------------------------------------------
-- Times: Celery writes UTC ISO 8601 ("2026-12-02T03:44:37.344851+00:00").

-- days_from_civil() is the days since 1970-01-01 of a Gregorian date
-- (H. Hinnant's algorithm), so no local time zone is ever involved.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- parse_time() is the epoch seconds of an ISO 8601 text, nil if it is not
-- one. A text without an offset is taken as UTC (Celery's naive UTC).
function M.parse_time(text)
  if type(text) ~= "string" then return nil end
  local y, mo, d, h, mi, s, rest = text:match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
  local frac, zone = rest:match("^(%.%d+)(.*)$")
  if frac then t = t + tonumber("0" .. frac) else zone = rest end
  if zone == "" or zone == "Z" then return t end
  local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then return nil end
  local offset = tonumber(zh) * 3600 + tonumber(zm) * 60
  return sign == "+" and t - offset or t + offset
end

-- format_time() writes epoch seconds as Celery does: with "+00:00" when
-- `zone`, naive otherwise (date_done).
function M.format_time(t, zone)
  local whole = math.floor(t)
  local micros = math.floor((t - whole) * 1e6 + 0.5)
  if micros >= 1000000 then whole, micros = whole + 1, 0 end
  local text = os.date("!%Y-%m-%dT%H:%M:%S", whole) .. (".%06d"):format(micros)
  return zone and text .. "+00:00" or text
end

---------------------------------------------------------------------------
-- Task messages

local function repr(v)
  local ok, text = pcall(core.json_encode, v)
  return ok and text or tostring(v)
end

-- args_json() is the JSON array of a task's positional arguments; with a
-- count `n` (table.pack) a nil among them is sent as null.
local function args_json(args)
  local n = math.tointeger(args.n)
  if not n then return M.json(args, "args") end
  local parts = {}
  for i = 1, n do parts[i] = args[i] == nil and "null" or M.json(args[i], ("args[%d]"):format(i)) end
  return "[" .. table.concat(parts, ", ") .. "]"
end

-- task_message() builds the envelope (a Lua table ready for json()) of a
-- task. `t`: name, id, queue, and either args/kwargs (JSON) or body +
-- content_type (already encoded); countdown, eta (epoch), expires (seconds
-- from now, or an epoch with expires_at), retries, time_limit,
-- soft_time_limit, priority, root_id, parent_id, extra headers.
function M.task_message(t)
  local now = core.now()
  local body, content_type = t.body, t.content_type or M.JSON
  if not body then
    body = "[" .. args_json(t.args or {}) .. ", " .. M.json(M.object(t.kwargs or {}), "kwargs")
      .. ', {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]'
  end
  local eta = t.eta or (t.countdown and t.countdown > 0 and now + t.countdown) or nil
  local expires = t.expires_at or (t.expires and now + t.expires) or nil
  local headers = M.object{
    lang = "lua",
    task = t.name,
    id = t.id,
    eta = eta and M.format_time(eta, true) or nil,
    expires = expires and M.format_time(expires, true) or nil,
    retries = t.retries or 0,
    timelimit = {t.time_limit or core.null, t.soft_time_limit or core.null},
    root_id = t.root_id or t.id,
    parent_id = t.parent_id,
    argsrepr = t.argsrepr or (t.args and repr(t.args)) or "()",
    kwargsrepr = t.kwargsrepr or "{}",
    origin = t.origin or ("gilrun%d@%s"):format(core.pid(), core.hostname()),
    ignore_result = false,
  }
  if t.headers then for k, v in pairs(t.headers) do headers[k] = v end end
  local properties = M.object{
    correlation_id = t.id,
    reply_to = t.reply_to or t.id,
    delivery_mode = 2,
    delivery_info = M.object{exchange = "", routing_key = t.queue},
    priority = t.priority or 0,
    body_encoding = "base64",
    delivery_tag = core.uuid(),
    expiration = t.expires and tostring(math.floor(t.expires * 1000)) or nil,
  }
  return M.object{
    body = core.b64encode(body),
    ["content-encoding"] = content_type == M.JSON and "utf-8" or "binary",
    ["content-type"] = content_type,
    headers = headers,
    properties = properties,
  }
end

-- parse() decodes a message's envelope text into a table: raw (the text),
-- envelope (decoded), headers, properties, tag, id, name; body bytes and
-- content_type. Raises (with a message) on what is not a task message.
function M.parse(raw)
  local env = M.unjson(raw, "task message")
  if type(env) ~= "table" or type(env.headers) ~= "table" or type(env.properties) ~= "table" then
    error("task message: not a Celery protocol 2 message (no headers/properties)", 0)
  end
  local h, p = env.headers, env.properties
  local body = env.body or ""
  if p.body_encoding == "base64" then
    local decoded = core.b64decode(body)
    if not decoded then error("task message: body is not base64", 0) end
    body = decoded
  end
  return {
    raw = raw, envelope = env, headers = h, properties = p,
    tag = p.delivery_tag, id = h.id, name = h.task,
    body = body, content_type = env["content-type"] or M.JSON,
    retries = math.tointeger(h.retries) or 0,
    eta = M.parse_time(h.eta), expires = M.parse_time(h.expires),
    queue = p.delivery_info and p.delivery_info.routing_key,
    exchange = p.delivery_info and p.delivery_info.exchange or "",
  }
end

-- decode_body() returns the task's positional arguments (a table with n)
-- and kwargs for a JSON body; for a gilrun body, the packed values.
function M.decode_body(msg)
  if msg.content_type == M.JSON or msg.content_type == M.MSGPACK then
    local b
    if msg.content_type == M.JSON then
      b = M.unjson(msg.body, "task body")
    else
      local ok, v = core.msgpack_decode(msg.body)
      if not ok then error("task body: " .. v, 0) end
      b = v
    end
    if type(b) ~= "table" then error("task body: not [args, kwargs, embed]", 0) end
    local args = b[1] or {}
    if type(args) ~= "table" then error("task body: args is not a list", 0) end
    local n = 0
    for k in pairs(args) do if math.type(k) == "integer" and k > n then n = k end end
    args.n = n
    return args, b[2] or {}
  elseif msg.content_type == M.GILRUN then
    local values = table.pack(core.decode(msg.body))
    if not values[1] then error("task body: " .. tostring(values[2]), 0) end
    return table.pack(table.unpack(values, 2, values.n)), {}
  end
  error(("task body: content type %s is not supported by gilrun workers (use application/json)")
    :format(tostring(msg.content_type)), 0)
end

return M
