-- cluster/client.lua — calling tasks: cluster.connect{...}, app:send_task,
-- app:executor().
--
-- Notes
-- -----
-- send_task publishes a task message (protocol.lua) on its queue
-- (broker.lua) and returns a real `futures` future (futures.future()), so
-- f:result([timeout]), f:done(), f:add_done_callback, futures.wait and
-- futures.as_completed work on it as on any other.
--
-- Results. One listener per app, a daemon OS thread of the same VM, holds a
-- pub/sub connection to the result backend with PSUBSCRIBE
-- celery-task-meta-* (subscribed before the first task is published, so
-- no outcome can be missed) and settles the app's pending futures as their
-- outcomes are published (backend.lua). It waits in the connection's read
-- with the GIL released, like any blocking call; the futures' own waits
-- (a queue get) work in OS threads and green threads alike, and a waiter on
-- any OS thread is woken by the listener's set_result. (A per-task
-- SUBSCRIBE, as Celery's client does, would need the listener's connection
-- from the sending thread while the listener reads it; a pattern costs a
-- few messages per other client's task instead.)
-- When the backend goes away the listener reconnects with backoff,
-- subscribes again and GETs every pending task's key (an outcome stored
-- meanwhile was published to nobody). If Redis stays away longer than
-- `retry_for` seconds (default 30), every pending future fails with "lost
-- the connection to Redis at URL: reason": a result() never hangs on a
-- Redis that is gone.
--
-- Executors. app:executor() sends Lua functions: the function and its
-- arguments travel as the value codec's bytes (upvalues included, as in
-- process pools) in a task named "gilrun.call", which every gilrun worker
-- runs without registration. Only gilrun workers can run these; Python
-- workers see only task names and JSON.
local core = require "cluster.core"
local futures = require "futures"
local thread = require "thread"
local sync = require "sync"
local time = require "time"
local protocol = require "cluster.protocol"
local broker = require "cluster.broker"
local backend = require "cluster.backend"

local M = {}

local App = {}
App.__index = App
App.__name = "cluster.app"

function App:__tostring()
  return ("cluster.app (broker %s)%s"):format(self.broker_url, self.closed and " (closed)" or "")
end

-- connect{broker=, backend=, queue=, retry_for=} opens the app's broker
-- connection at once: no Redis is an error naming the URL.
function M.connect(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'connect' (table expected: {broker = 'redis://...'})", 2) end
  if type(opts.broker) ~= "string" then error("connect: broker = 'redis://HOST:PORT/DB' expected", 2) end
  local retry_for = opts.retry_for or 30
  local ok, link = pcall(broker.connect, opts.broker, {retry_for = retry_for})
  if not ok then error(link, 2) end
  return setmetatable({
    broker_url = opts.broker, backend_url = opts.backend or opts.broker, queue = opts.queue or "celery",
    retry_for = retry_for, link = link, pending = {}, lock = sync.lock(), publishing = sync.lock(),
    closed = false,
  }, App)
end

-- settle() completes id's future from its stored or published outcome.
function App:_settle(id, text)
  if not self.pending[id] then return end  -- another client's task, or done
  local final, value = backend.outcome(text)
  if final == nil then return end  -- RETRY, STARTED: not over
  self.lock:acquire()
  local f = self.pending[id]
  self.pending[id] = nil
  self.lock:release()
  if not f then return end
  if final then
    pcall(f.set_result, f, table.unpack(value, 1, value.n))
  else
    pcall(f.set_exception, f, value)
  end
end

-- fail_pending() fails every pending future with `why`.
function App:_fail_pending(why)
  self.lock:acquire()
  local pending = self.pending
  self.pending = {}
  self.lock:release()
  for _, f in pairs(pending) do pcall(f.set_exception, f, why) end
end

local function subscribe(url)
  local sub, err = core.connect(url, 10)
  if not sub then return nil, err end
  local ok
  ok, err = sub:send("PSUBSCRIBE", backend.PREFIX .. "*")
  if ok then ok, err = sub:read(10) end
  if not ok then
    sub:close()
    return nil, err
  end
  return sub
end

-- recover() is the listener's reconnection: a new subscription, then the
-- outcomes that were stored while it was away.
local function recover(app, why)
  local started, delay, failed = time.monotonic(), 0.05, false
  while not app.closed do
    if not failed and time.monotonic() - started > app.retry_for then
      app:_fail_pending(("lost the connection to Redis at %s: %s"):format(app.backend_url, why))
      failed = true
    end
    time.sleep(delay)
    delay = math.min(delay * 2, 2)
    local sub, err = subscribe(app.backend_url)
    if sub then
      local getter = core.connect(app.backend_url, 10)
      if getter then
        local ids = {}
        for id in pairs(app.pending) do ids[#ids + 1] = id end
        for _, id in ipairs(ids) do
          local text = getter:call("GET", backend.key(id))
          if type(text) == "string" then app:_settle(id, text) end
        end
        getter:close()
      end
      return sub
    end
    why = err
  end
end

local function listen(app)
  local sub = app.sub
  while not app.closed do
    local r, err = sub:read()
    if r then
      if type(r) == "table" and r[1] == "pmessage" and type(r[3]) == "string" then
        app:_settle(r[3]:sub(#backend.PREFIX + 1), r[4])
      end
    elseif not app.closed then
      sub:close()
      sub = recover(app, err)
      if not sub then break end
      app.sub = sub
    end
  end
  if sub then sub:close() end
end

function App:_listen()
  if self.listener then return end
  local sub, err = subscribe(self.backend_url)
  if not sub then error(err, 0) end
  self.sub = sub
  self.listener = thread.spawn{listen, self, daemon = true, name = "cluster results"}
end

local function check_app(self, name)
  if getmetatable(self) ~= App then
    error(("bad argument #1 to '%s' (cluster app expected; call it as app:%s(...))"):format(name, name), 3)
  end
  if self.closed then error(name .. ": the cluster app was closed", 3) end
end

-- send() publishes one task; `t` is protocol.task_message's table less id.
function App:_send(t)
  t.id = t.id or core.uuid()
  local ok, envelope = pcall(protocol.task_message, t)
  if not ok then error(envelope, 0) end
  local f = futures.future()
  f.task_id = t.id
  self.publishing:acquire()
  local started, err = pcall(function()
    self:_listen()
    self.lock:acquire()
    self.pending[t.id] = f
    self.lock:release()
    self.link:publish(t.queue, envelope)
  end)
  self.publishing:release()
  if not started then
    self.lock:acquire()
    self.pending[t.id] = nil
    self.lock:release()
    error(err, 0)
  end
  return f
end

local function task_fields(opts, queue)
  opts = opts or {}
  local extra = {}
  if opts.retries or opts.max_retries then extra.gilrun_max_retries = opts.retries or opts.max_retries end
  if opts.retry_countdown then extra.gilrun_retry_countdown = opts.retry_countdown end
  return {
    queue = opts.queue or queue, countdown = opts.countdown, eta = opts.eta, expires = opts.expires,
    time_limit = opts.time_limit, soft_time_limit = opts.soft_time_limit, priority = opts.priority,
    kwargs = opts.kwargs, id = opts.task_id, headers = extra,
  }
end

-- send_task(name, args [, opts]) --> future. opts: queue, countdown, eta
-- (epoch seconds), expires (seconds from now), retries (retry a failing
-- task this many times; alias max_retries), retry_countdown, time_limit,
-- soft_time_limit, priority, kwargs, task_id.
function App:send_task(name, args, opts)
  check_app(self, "send_task")
  if type(name) ~= "string" then error("bad argument #1 to 'send_task' (task name expected)", 2) end
  if args ~= nil and type(args) ~= "table" then error("bad argument #2 to 'send_task' (table of arguments expected)", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #3 to 'send_task' (table of options expected)", 2) end
  local t = task_fields(opts, self.queue)
  t.name, t.args = name, args or {}
  local ok, f = pcall(self._send, self, t)
  if not ok then error(f, 2) end
  return f
end

-- async_result(id) --> a future for a task sent by anyone (Celery's
-- AsyncResult): settled when its outcome is published, or at once if it is
-- stored already.
function App:async_result(id)
  check_app(self, "async_result")
  if type(id) ~= "string" then error("bad argument #1 to 'async_result' (task id expected)", 2) end
  local f = futures.future()
  f.task_id = id
  self.publishing:acquire()
  local ok, err = pcall(function()
    self:_listen()  -- subscribed first: an outcome published from now on is heard
    self.lock:acquire()
    self.pending[id] = f
    self.lock:release()
    local text = self.link:call("GET", backend.key(id))
    if type(text) == "string" then self:_settle(id, text) end
  end)
  self.publishing:release()
  if not ok then error(err, 2) end
  return f
end

-- close() stops the listener; pending futures stay pending.
function App:close()
  if self.closed then return end
  self.closed = true
  if self.sub then self.sub:wake() end
  if self.listener then self.listener:join() end
  self.link:close()
end

App.__close = App.close
App.__gc = function(self) if not self.closed and self.sub then self.closed = true; self.sub:wake() end end

---------------------------------------------------------------------------
-- The cluster executor

local Executor = {}
Executor.__index = Executor
Executor.__name = "cluster.executor"

function Executor:__tostring() return "cluster.executor" .. (self._shutdown and " (shut down)" or "") end

-- executor([opts]) takes send_task's options for every task it sends.
function App:executor(opts)
  check_app(self, "executor")
  return setmetatable({_app = self, _opts = opts or {}, _futures = {}, _shutdown = false}, Executor)
end

function Executor:submit(fn, ...)
  if getmetatable(self) ~= Executor then error("bad argument #1 to 'submit' (executor expected; call it as ex:submit(fn, ...))", 2) end
  if type(fn) ~= "function" then error(("bad argument #1 to 'submit' (function expected, got %s)"):format(type(fn)), 2) end
  if self._shutdown then error("cannot submit to a cluster executor that was shut down", 2) end
  local body, err = core.encode("args", fn, ...)
  if not body then error(err, 2) end
  local t = task_fields(self._opts, self._app.queue)
  t.name, t.body, t.content_type = protocol.CALL_TASK, body, protocol.GILRUN
  t.argsrepr = ("(<Lua function>, %d argument(s))"):format(select("#", ...))
  local ok, f = pcall(self._app._send, self._app, t)
  if not ok then error(f, 2) end
  self._futures[f] = true
  f:add_done_callback(function() self._futures[f] = nil end)
  return f
end

-- map(fn, list [, {timeout=}]) --> results in input order; the first error
-- raises, naming its index, like futures executors.
function Executor:map(fn, list, opts)
  if type(fn) ~= "function" then error(("bad argument #1 to 'map' (function expected, got %s)"):format(type(fn)), 2) end
  if type(list) ~= "table" then error(("bad argument #2 to 'map' (table expected, got %s)"):format(type(list)), 2) end
  local timeout = opts and opts.timeout
  local deadline = timeout and time.monotonic() + timeout
  local fs = {}
  for i = 1, #list do fs[i] = self:submit(fn, list[i]) end
  local results = {}
  for i = 1, #fs do
    local left = deadline and math.max(0, deadline - time.monotonic()) or nil
    local ok, value, why = pcall(fs[i].result, fs[i], left)
    if not ok then error(("map: item %d: %s"):format(i, tostring(value)), 0) end
    if value == nil and why == "timeout" and not fs[i]:done() then return nil, "timeout" end
    results[i] = value
  end
  return results
end

function Executor:shutdown(opts)
  self._shutdown = true
  if opts and opts.wait == false then return end
  local list = {}
  for f in pairs(self._futures) do list[#list + 1] = f end
  if #list > 0 then futures.wait(list) end
end

function Executor:size() return nil end  -- as many as the cluster has

Executor.__close = function(self) self:shutdown() end

return M
