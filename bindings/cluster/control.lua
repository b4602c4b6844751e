-- cluster/control.lua — what makes Celery's tools see a gilrun worker:
-- the remote-control mailbox (pidbox: `celery inspect ping`, `celery
-- status`, `inspect registered`, `inspect active`, `inspect stats`) and
-- the worker events (worker-online, worker-heartbeat every 2 s,
-- worker-offline: Flower, `celery events`).
--
-- Notes (kombu/pidbox.py, celery/worker/control.py, celery/events/;
-- checked with redis-cli MONITOR against `celery inspect ping` and a
-- Celery 5.2.6 worker)
-- -------------------------------------------------------------------------
-- A broadcast goes to the fanout exchange "celery.pidbox", which kombu's
-- Redis transport turns into PUBLISH "/<db>.celery.pidbox" <envelope>
-- (keyprefix_fanout "/{db}."); a worker PSUBSCRIBEs to that channel. The
-- envelope is a task-style JSON object whose base64 body is
--   {"method": "ping", "arguments": {}, "destination": null | [names],
--    "pattern", "matcher", "ticket", "reply_to": {"exchange":
--    "reply.celery.pidbox", "routing_key": <client uuid>}}
-- and headers carry "expires" (epoch seconds). The reply is published to
-- the direct exchange reply.celery.pidbox with the client's routing key:
-- the queue bound to it in _kombu.binding.reply.celery.pidbox
-- ("<uuid>.reply.celery.pidbox"), by LPUSH, body {"<hostname>": <reply>},
-- headers {"ticket", "clock"}, delivery_mode 1.
-- Events go to the topic exchange "celeryev": PUBLISH
-- "/<db>.celeryev/worker.heartbeat" <envelope> with body {"hostname",
-- "utcoffset", "pid", "clock", "freq", "active", "processed", "loadavg",
-- "sw_ident", "sw_ver", "sw_sys", "timestamp", "type"} and headers
-- {"hostname"}.
--
-- In gilrun the supervisor (`gilrun worker`'s first process) answers for
-- the node, from a daemon OS thread of its own interpreter: one node name
-- however many worker processes it runs, as a Celery worker answers for its
-- pool. The supervisor keeps `active`/`processed` and the running tasks up
-- to date here (M.note_*).
local core = require "cluster.core"
local thread = require "thread"
local time = require "time"
local protocol = require "cluster.protocol"
local broker = require "cluster.broker"

local M = {}

local SW_VERSION = "0.1"
local HEARTBEAT = 2.0

local state = {active = {}, nactive = 0, processed = 0, clock = 0}

-- The supervisor's notes: a task started, a task ended.
function M.note_started(id, name, pid)
  if not state.active[id] then state.nactive = state.nactive + 1 end
  state.active[id] = {id = id, name = name, worker_pid = pid, time_start = core.now()}
end

function M.note_finished(id)
  if state.active[id] then
    state.active[id] = nil
    state.nactive = state.nactive - 1
    state.processed = state.processed + 1
  end
end

local function db_of(url) return tonumber(url:match("/(%d+)%s*$")) or 0 end

local function tick()
  state.clock = state.clock + 1
  return state.clock
end

local function envelope(body_table, headers, exchange, routing_key, mode)
  return protocol.object{
    body = core.b64encode(protocol.json(body_table)),
    ["content-encoding"] = "utf-8",
    ["content-type"] = protocol.JSON,
    headers = protocol.object(headers),
    properties = protocol.object{
      delivery_mode = mode or 1,
      delivery_info = protocol.object{exchange = exchange, routing_key = routing_key},
      priority = 0, body_encoding = "base64", delivery_tag = core.uuid(),
    },
  }
end

local function loadavg()
  local f = io.open("/proc/loadavg")
  if not f then return {0.0, 0.0, 0.0} end
  local a, b, c = f:read("l"):match("^(%S+) (%S+) (%S+)")
  f:close()
  return {tonumber(a) + 0.0, tonumber(b) + 0.0, tonumber(c) + 0.0}
end

local function event(c, kind)
  local body = protocol.object{
    hostname = c.hostname, utcoffset = 0, pid = core.pid(), clock = tick(), freq = HEARTBEAT,
    active = state.nactive, processed = state.processed, loadavg = loadavg(),
    sw_ident = "gilrun", sw_ver = SW_VERSION, sw_sys = "Linux", timestamp = core.now(), type = kind,
  }
  local routing_key = kind:gsub("-", ".")
  c.link:call("PUBLISH", ("/%d.celeryev/%s"):format(c.db, routing_key),
    protocol.json(envelope(body, {hostname = c.hostname}, "celeryev", routing_key)))
end

-- The remote-control commands gilrun answers.
local handlers = {}
function handlers.ping() return protocol.object{ok = "pong"} end
function handlers.registered(c) return c.tasks end
function handlers.active(c)
  local list = {}
  for _, t in pairs(state.active) do
    list[#list + 1] = protocol.object{id = t.id, name = t.name, hostname = c.hostname, worker_pid = t.worker_pid,
                                      time_start = t.time_start, args = {}, kwargs = protocol.object{}, acknowledged = true}
  end
  return list
end
function handlers.stats(c)
  return protocol.object{
    pid = core.pid(), clock = tostring(state.clock), broker = protocol.object{transport = "redis", hostname = c.url},
    pool = protocol.object{["max-concurrency"] = c.concurrency, implementation = "gilrun worker processes"},
    total = protocol.object{}, sw_ident = "gilrun",
  }
end

local function handle(c, text)
  local ok, env = core.json_decode(text)
  if not ok or type(env) ~= "table" or type(env.body) ~= "string" then return end
  local headers = type(env.headers) == "table" and env.headers or {}
  if tonumber(headers.expires) and tonumber(headers.expires) < core.now() then return end
  local okb, body = core.json_decode(core.b64decode(env.body) or "")
  if not okb or type(body) ~= "table" then return end
  if type(body.destination) == "table" then
    local mine = false
    for _, d in ipairs(body.destination) do mine = mine or d == c.hostname end
    if not mine then return end
  end
  local handler = handlers[body.method]
  local reply_to = body.reply_to
  if not handler or type(reply_to) ~= "table" or type(reply_to.routing_key) ~= "string" then return end
  local reply = protocol.object{[c.hostname] = handler(c, body.arguments)}
  local msg = envelope(reply, {ticket = body.ticket, clock = tick()}, reply_to.exchange, reply_to.routing_key)
  local text_out = protocol.json(msg)
  for _, queue in ipairs(c.link:lookup(reply_to.exchange, reply_to.routing_key)) do
    c.link:call("LPUSH", queue, text_out)
  end
end

local function subscribe(c)
  local sub, err = core.connect(c.url, 10)
  if not sub then return nil, err end
  local ok
  ok, err = sub:send("PSUBSCRIBE", ("/%d.celery.pidbox"):format(c.db))
  if ok then ok, err = sub:read(10) end
  if not ok then
    sub:close()
    return nil, err
  end
  return sub
end

local function loop(c)
  local sub = c.sub
  local next_beat = time.monotonic() + HEARTBEAT
  local delay = 0.05
  while not c.stopped do
    if not sub then
      time.sleep(delay)
      delay = math.min(delay * 2, 2)
      sub = subscribe(c)
      c.sub = sub
    else
      local r = sub:read(math.max(0.01, next_beat - time.monotonic()))
      if type(r) == "table" and r[1] == "pmessage" then
        pcall(handle, c, r[4])
      elseif r == nil and not sub:connected() then
        sub:close()
        sub, c.sub = nil, nil
      end
    end
    if not c.stopped and time.monotonic() >= next_beat then
      next_beat = time.monotonic() + HEARTBEAT
      pcall(event, c, "worker-heartbeat")
    end
  end
  if sub then sub:close() end
end

local current

-- start{url=, hostname=, tasks={names}, concurrency=} starts answering.
function M.start(opts)
  local c = {url = opts.url, db = db_of(opts.url), hostname = opts.hostname, tasks = opts.tasks or {},
             concurrency = opts.concurrency or 1, stopped = false}
  -- Stopping, it does not wait for a Redis that is away (worker-offline is lost then).
  c.link = broker.connect(c.url, {retry_for = 30, give_up = function() return c.stopped end})
  local sub, err = subscribe(c)
  if not sub then error(err, 0) end
  c.sub = sub
  pcall(event, c, "worker-online")
  c.thread = thread.spawn{loop, c, daemon = true, name = "cluster control"}
  current = c
end

-- stop() says worker-offline and ends the thread.
function M.stop()
  local c = current
  if not c then return end
  current = nil
  c.stopped = true
  if c.sub then c.sub:wake() end
  c.thread:join()
  pcall(event, c, "worker-offline")
  c.link:close()
end

return M
