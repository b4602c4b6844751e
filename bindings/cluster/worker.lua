-- cluster/worker.lua — one worker process of `gilrun worker`: takes task
-- messages from its queues, runs them, stores the outcome, acknowledges.
--
-- Notes
-- -----
-- The shape of a Celery worker with acks_late, one task at a time per
-- process (`gilrun worker --concurrency=N` runs N of these, each its own
-- interpreter and GIL; bindings/cli/worker/ supervises them):
--   BRPOP -> hold (unacked, broker.lua) -> expired? REVOKED -> eta in the
--   future? keep it (still unacked) until due -> run -> SETEX+PUBLISH the
--   outcome (backend.lua) -> ack.
-- Now and then (every restore_interval seconds, and at start) it restores
-- messages unacknowledged past the visibility timeout (kombu's
-- restore_visible): the tasks of workers that were killed.
--
-- Retries: a task that fails and has retries left (headers.retries <
-- max_retries, from cluster.task's options or the sender's
-- gilrun_max_retries header) is published again as a new message with the
-- same id, retries + 1 and an eta `retry_delay` seconds on (Celery's
-- Task.retry), its state stored as RETRY, and the failed message acked.
--
-- Round trips. A task costs two: the BRPOP that takes it, and the hold
-- (MULTI ZADD HSET EXEC), which must be in Redis before the task runs. Its
-- stored result and its ack go write-behind (broker.lua's later()): they
-- leave in the same write as the next BRPOP, in that order.
--
-- The supervisor (the `gilrun worker` process) talks to this one over a
-- socket, one line per event, so it can kill a task past its hard time
-- limit and put back what a killed worker held. The lines are buffered and
-- written at two points — just before a task runs ("U" and "B" in one
-- write) and just before the next BRPOP — so a task wakes the supervisor
-- twice, not three times. (A worker killed between that write and the
-- BRPOP's leaves a task its supervisor will not put back, stored result
-- and ack unsent: it is delivered again after the visibility timeout, the
-- same window kombu has between BRPOP and hold.)
--   worker -> supervisor  "R" (ready), "U <tag>" (holding a message),
--                         "B <tag> <hard limit s|0> <id> <name>" (running),
--                         "A <tag>" (acked or restored: forget it)
--   supervisor -> worker  "stop" (warm shutdown: finish the task, take no
--                         more, put back held eta messages)
local core = require "cluster.core"
local time = require "time"
local protocol = require "cluster.protocol"
local broker = require "cluster.broker"
local backend = require "cluster.backend"

local M = {}

local LEVELS = {debug = 10, info = 20, warning = 30, error = 40, critical = 50}

-- logger() prints Celery-style lines on stderr at or above `level`.
function M.logger(level, who)
  local min = LEVELS[level or "info"] or 20
  return function(lvl, text)
    if (LEVELS[lvl] or 20) < min then return end
    local now = core.now()
    io.stderr:write(("[%s,%03d: %s/%s] %s\n"):format(os.date("%Y-%m-%d %H:%M:%S", math.floor(now)),
      math.floor((now % 1) * 1000), lvl:upper(), who, text))
    io.stderr:flush()
  end
end

local function short(v)
  local text = core.json_encode(v) or tostring(v)
  if #text > 120 then text = text:sub(1, 117) .. "..." end
  return text
end

-- Control channel to the supervisor (nil when run alone).
local Control = {}
Control.__index = Control

local function new_control(fd)
  return setmetatable({fd = fd, stop = false, lines = {}}, Control)
end

-- send() queues a line; flush() writes the queued lines in one write.
function Control:send(line)
  if self.fd then self.lines[#self.lines + 1] = line .. "\n" end
end

function Control:flush()
  if self.lines[1] then
    core.fd_write(self.fd, table.concat(self.lines))
    self.lines = {}
  end
end

-- stopping() polls the channel (no wait): true once a stop came or the
-- supervisor went away.
function Control:stopping()
  if self.stop or not self.fd then return self.stop end
  local data = core.fd_poll(self.fd)
  if data == false or (data and data:find("stop", 1, true)) then self.stop = true end
  return self.stop
end

-- with_traceback() keeps the error's text and the traceback where it rose,
-- less the worker's own frames (from the xpcall that ran the task down).
local function with_traceback(e)
  local message = type(e) == "string" and e or tostring(e)
  local traceback = debug.traceback(message, 2)
  local cut = traceback:find("\n\t%[C%]: in function 'xpcall'")
  if cut then traceback = traceback:sub(1, cut - 1) end
  return {message = message, traceback = traceback}
end

-- M.run() is a worker process's life. cfg: broker, backend, queues (list),
-- tasks (name -> {fn, opts}), visibility_timeout, restore_interval,
-- loglevel, name, control_fd, hostname.
function M.run(cfg)
  local log = M.logger(cfg.loglevel, cfg.name or "Worker")
  local function note(text) log("warning", text) end
  local control = new_control(cfg.control_fd)
  local function stopping() return control:stopping() end
  local link = broker.connect(cfg.broker, {log = note, give_up = stopping})
  local results = link
  if cfg.backend and cfg.backend ~= cfg.broker then
    results = broker.connect(cfg.backend, {log = note, give_up = stopping})
  end
  local queues = cfg.queues or {"celery"}
  for _, q in ipairs(queues) do link:declare(q) end
  local keys = broker.consume_keys(queues)
  local vt = cfg.visibility_timeout or broker.VISIBILITY_TIMEOUT
  local restore_interval = cfg.restore_interval or math.min(vt / 2, 10)
  local tasks = cfg.tasks or {}
  -- Results and acks leave write-behind (see the notes): `outcomes` stores
  -- on the broker's connection when the backend is the same Redis.
  local acks = link:later()
  local outcomes = results == link and acks or results
  local scheduled = {}  -- held messages with an eta, earliest first
  local last_restore = -math.huge

  local function forget(msg)
    control:send("A " .. msg.tag)
  end

  local function finish(msg, store)
    store()
    acks:ack(msg.tag)
    forget(msg)
  end

  local function retry(msg, task_opts, err)
    local h = msg.headers
    local max = math.tointeger(h.gilrun_max_retries) or (task_opts and task_opts.max_retries) or 0
    if msg.retries >= max then return false end
    local delay = tonumber(h.gilrun_retry_countdown) or (task_opts and task_opts.retry_delay) or 0
    local limits = type(h.timelimit) == "table" and h.timelimit or {}
    local extra = {}
    for k, v in pairs(h) do if k:match("^gilrun_") then extra[k] = v end end
    local envelope = protocol.task_message{
      name = msg.name, id = msg.id, queue = msg.queue or queues[1], body = msg.body,
      content_type = msg.content_type, retries = msg.retries + 1, countdown = delay,
      expires_at = msg.expires, time_limit = tonumber(limits[1]), soft_time_limit = tonumber(limits[2]),
      root_id = h.root_id, parent_id = h.parent_id, argsrepr = h.argsrepr, kwargsrepr = h.kwargsrepr,
      priority = msg.properties.priority, headers = extra,
    }
    link:publish(msg.queue or queues[1], envelope)
    backend.store(outcomes, msg.id, "RETRY", backend.exception("Retry", err.message, "celery.exceptions"), err.traceback)
    log("info", ("Task %s[%s] retry: Retry in %gs: %s"):format(msg.name, msg.id, delay, err.message))
    return true
  end

  local function execute(msg)
    local gilrun = msg.name == protocol.CALL_TASK
    local task = tasks[msg.name]
    if not task and not gilrun then
      log("error", ("Received unregistered task of type '%s' (id %s)"):format(tostring(msg.name), tostring(msg.id)))
      finish(msg, function()
        backend.failure(outcomes, msg.id, tostring(msg.name), nil, "NotRegistered", "celery.exceptions")
      end)
      return
    end
    local limits = type(msg.headers.timelimit) == "table" and msg.headers.timelimit or {}
    local hard = tonumber(limits[1]) or (task and task.opts.time_limit) or 0
    control:send(("B %s %s %s %s"):format(msg.tag, tostring(hard), msg.id, msg.name))
    control:flush()
    local started = time.monotonic()
    local outcome = table.pack(xpcall(function()
      local args, kwargs = protocol.decode_body(msg)
      if gilrun then
        if type(args[1]) ~= "function" then error("gilrun.call: the task is not a Lua function", 0) end
        return args[1](table.unpack(args, 2, args.n))
      end
      if next(kwargs) ~= nil then
        args.n = args.n + 1
        args[args.n] = kwargs
      end
      return task.fn(table.unpack(args, 1, args.n))
    end, with_traceback))
    local elapsed = time.monotonic() - started
    if outcome[1] then
      local values = table.pack(table.unpack(outcome, 2, outcome.n))
      local ok, err = pcall(backend.success, outcomes, msg.id, values, gilrun)
      if ok then
        log("info", ("Task %s[%s] succeeded in %.6fs: %s"):format(msg.name, msg.id, elapsed,
          gilrun and ("%d value(s)"):format(values.n) or short(values[1])))
      else
        log("error", ("Task %s[%s] raised unexpected: %s"):format(msg.name, msg.id, err))
        backend.failure(outcomes, msg.id, err, nil)
      end
      acks:ack(msg.tag)
      forget(msg)
      return
    end
    local err = outcome[2]
    if type(err) ~= "table" then err = {message = tostring(err), traceback = ""} end
    if not retry(msg, task and task.opts, err) then
      log("error", ("Task %s[%s] raised unexpected: %s"):format(msg.name, msg.id, err.message))
      backend.failure(outcomes, msg.id, err.message, err.traceback)
    end
    acks:ack(msg.tag)
    forget(msg)
  end

  local function schedule(msg)
    scheduled[#scheduled + 1] = msg
    table.sort(scheduled, function(a, b) return a.eta < b.eta end)
  end

  local function receive(key, raw)
    local ok, msg = pcall(protocol.parse, raw)
    if not ok or type(msg.tag) ~= "string" or type(msg.id) ~= "string" then
      log("error", ("dropped a message from %s that is not a task: %s"):format(key, ok and "no id or delivery tag" or msg))
      return
    end
    link:hold(msg)
    control:send("U " .. msg.tag)
    if msg.expires and msg.expires < core.now() then
      log("info", ("Discarding revoked task: %s[%s] (expired)"):format(tostring(msg.name), msg.id))
      finish(msg, function()
        backend.store(outcomes, msg.id, "REVOKED", backend.exception("TaskRevokedError", "expired", "celery.exceptions"))
      end)
      return
    end
    if msg.eta and msg.eta > core.now() then
      log("info", ("Task %s[%s] received (eta %s)"):format(tostring(msg.name), msg.id, msg.headers.eta))
      schedule(msg)
      return
    end
    log("debug", ("Task %s[%s] received"):format(tostring(msg.name), msg.id))
    execute(msg)
  end

  log("info", ("ready: consuming %s from %s"):format(table.concat(queues, ", "), cfg.broker))
  control:send("R")
  -- consume() takes and runs tasks until told to stop.
  local function consume()
    while not control:stopping() do
      local now = time.monotonic()
      if now - last_restore >= restore_interval then
        last_restore = now
        local n = link:restore_visible(vt)
        if n > 0 then log("warning", ("restored %d unacknowledged message(s) past the visibility timeout"):format(n)) end
      end
      local wait = broker.BRPOP_TIMEOUT
      if scheduled[1] then wait = math.max(0.01, math.min(wait, scheduled[1].eta - core.now())) end
      control:flush()
      local key, raw = link:get(keys, wait)
      if raw then
        if control:stopping() then
          link:call("RPUSH", key, raw)  -- not taken: back where it was
        else
          receive(key, raw)
        end
      end
      while scheduled[1] and scheduled[1].eta <= core.now() and not control:stopping() do
        execute(table.remove(scheduled, 1))
      end
    end
  end
  local ok, err = pcall(consume)
  if not ok and err ~= broker.STOPPED then error(err, 0) end
  if not ok then  -- told to stop while Redis was away: what it held waits for the visibility timeout
    control:flush()
    log("warning", ("stopped while Redis at %s was unreachable; its unacknowledged tasks are "
                    .. "delivered again after the visibility timeout"):format(cfg.broker))
    return
  end
  for _, msg in ipairs(scheduled) do
    link:restore(msg.tag)
    forget(msg)
  end
  link:flush()
  control:flush()
  log("info", "stopped")
end

---------------------------------------------------------------------------
-- The supervisor's side (bindings/cli/worker/): it runs these in its own
-- interpreter.

-- check() connects to each URL once: "cannot connect to URL: reason".
function M.check(urls)
  for _, url in ipairs(urls) do broker.connect(url):close() end
end

-- restore() puts back the messages a killed worker held.
function M.restore(url, tags)
  local link = broker.connect(url, {retry_for = 10})
  for _, tag in ipairs(tags) do link:restore(tag) end
  link:close()
end

-- fail_task() reports a task whose worker process the supervisor lost or
-- killed — past its hard time limit (billiard's TimeLimitExceeded, as
-- Celery reports it) or dead twice running it (WorkerLostError) — as
-- FAILURE, then acks it.
function M.fail_task(broker_url, backend_url, tag, id, exc_type, exc_module, message)
  local link = broker.connect(broker_url, {retry_for = 10})
  local results = backend_url ~= broker_url and broker.connect(backend_url, {retry_for = 10}) or link
  backend.failure(results, id, message, nil, exc_type, exc_module)
  link:ack(tag)
  link:close()
  if results ~= link then results:close() end
end

return M
