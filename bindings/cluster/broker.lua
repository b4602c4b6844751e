-- cluster/broker.lua — kombu's Redis transport: where messages wait, how a
-- consumer takes them, and its acknowledgement emulation (unacked messages
-- and their restore after the visibility timeout).
--
-- Notes (kombu/transport/redis.py 5.2.4, Channel and QoS; checked with
-- redis-cli MONITOR against a Celery 5.2.6 worker)
-- -------------------------------------------------------------------------
-- Queues. A queue is a Redis list named after it; producers LPUSH, a
-- consumer BRPOP's all its queues with a 1 s timeout. Priorities are extra
-- lists "<queue>\x06\x16<step>" for steps 3, 6, 9 (priority_steps
-- [0, 3, 6, 9]; a message's priority is rounded down to a step, 0 is the
-- plain list), and BRPOP lists them in that order, so on Redis a LOWER
-- number is served first (kombu's documented quirk for this transport).
--
-- Bindings. Declaring a queue adds "<routing_key>\x06\x16<pattern>\x06\x16
-- <queue>" to the set "_kombu.binding.<exchange>"; Celery's default
-- exchange for the queue "celery" is "celery" itself, with routing key
-- "celery" (the set member "celery\x06\x16\x06\x16celery"). Messages are
-- published with exchange "" (the default exchange: routing key = queue).
--
-- Acknowledgement (Celery's acks_late; kombu's QoS for Redis): after the
-- BRPOP the consumer records the message before it runs the task,
--   MULTI; ZADD unacked_index <now> <tag>;
--          HSET unacked <tag> [<envelope>, <exchange>, <routing_key>]; EXEC
-- and acknowledges it after the result is stored:
--   MULTI; ZREM unacked_index <tag>; HDEL unacked <tag>; EXEC.
-- Any consumer, now and then, restores what was taken longer than the
-- visibility timeout ago (default 3600 s) and never acknowledged — a worker
-- killed mid-task — under a mutex so only one does it at a time:
--   SET unacked_mutex <token> PX 300000 NX            (redis-py's Lock)
--   ZREVRANGEBYSCORE unacked_index <now - timeout> 0 WITHSCORES
--   per tag: WATCH unacked; HGET unacked <tag>; MULTI; ZREM; HDEL;
--            RPUSH <queue> <envelope with redelivered = true>; EXEC
--   release: the compare-and-delete script redis-py's Lock uses.
-- RPUSH puts the message at the consumer's end of the list: it runs next.
-- So delivery is at-least-once: a task whose worker died after running it
-- but before the acknowledgement runs again. Tasks must be idempotent.
-- (As in kombu, the moment between BRPOP and the ZADD/HSET is a window in
-- which a killed worker loses the message.)
--
-- Connections go away (Redis restarted, a network cut). A Link is a
-- connection that reconnects with exponential backoff (50 ms doubling to
-- 2 s) and retries the command; past `retry_for` seconds without Redis it
-- raises "lost the connection to Redis at URL: reason". A command that was
-- in flight when the connection broke may have run; the commands here are
-- safe to repeat except LPUSH, which may then deliver twice (at-least-once
-- again).
local core = require "cluster.core"
local time = require "time"
local protocol = require "cluster.protocol"

local M = {}

M.SEP = "\x06\x16"
M.PRIORITY_STEPS = {0, 3, 6, 9}
M.UNACKED = "unacked"
M.UNACKED_INDEX = "unacked_index"
M.UNACKED_MUTEX = "unacked_mutex"
M.MUTEX_EXPIRE_MS = 300000
M.VISIBILITY_TIMEOUT = 3600
M.BRPOP_TIMEOUT = 1

-- The release script of redis-py's Lock (as it appears in MONITOR).
local UNLOCK_SCRIPT = [[
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        redis.call('del', KEYS[1])
        return 1
    ]]

---------------------------------------------------------------------------
-- Link: a connection that comes back

local Link = {}
Link.__index = Link

-- connect() opens a Link; raises "cannot connect to URL: reason" at once if
-- Redis is not there (so a worker or client started without Redis says so).
-- opts: retry_for (seconds; nil: forever), log (function(text)), name.
-- opts.give_up (a function): asked between reconnection attempts; true
-- makes the waiting call raise M.STOPPED (a worker told to stop while Redis
-- is away need not wait for it to come back).
M.STOPPED = setmetatable({}, {__tostring = function() return "stopped while reconnecting" end})

function M.connect(url, opts)
  opts = opts or {}
  local conn, err = core.connect(url, opts.connect_timeout or 10)
  if not conn then error(err, 0) end
  return setmetatable({url = url, conn = conn, retry_for = opts.retry_for, log = opts.log,
                       give_up = opts.give_up, declared = {}, deferred = {}}, Link)
end

-- recover() reconnects with backoff after `why`; raises past retry_for.
function Link:recover(why)
  local started, delay = time.monotonic(), 0.05
  if self.log then self.log(("lost the broker connection (%s); reconnecting"):format(why)) end
  self.declared = {}
  while true do
    if self.retry_for and time.monotonic() - started > self.retry_for then
      error(("lost the connection to Redis at %s: %s"):format(self.url, why), 0)
    end
    if self.give_up and self.give_up() then error(M.STOPPED, 0) end
    time.sleep(delay)
    delay = math.min(delay * 2, 2)
    local ok, err = self.conn:reconnect(5)
    if ok then
      if self.log then self.log("reconnected to " .. self.conn:url()) end
      return
    end
    why = err
  end
end

-- call() runs one command; Redis's own errors raise at once.
function Link:call(...)
  if self.deferred[1] then
    local reply = self:pipeline({{...}})[1]
    if type(reply) == "table" and reply.err then error(("Redis at %s: %s"):format(self.url, reply.err), 2) end
    if reply == false then return nil end  -- a nil reply, as pipelines spell it
    return reply
  end
  while true do
    local reply, err, kind = self.conn:call(...)
    if reply ~= nil or err == nil then return reply end
    if kind == "reply" then error(("Redis at %s: %s"):format(self.url, err), 2) end
    self:recover(err)
  end
end

-- pipeline() sends the commands in one write and returns their replies,
-- after the deferred ones (below) — whose replies it checks and drops.
function Link:pipeline(cmds)
  local deferred = self.deferred
  local all = cmds
  if deferred[1] then
    all = {}
    for i = 1, #deferred do all[i] = deferred[i] end
    for i = 1, #cmds do all[#deferred + i] = cmds[i] end
  end
  while true do
    local replies, err, kind = self.conn:pipeline(all)
    if replies then
      if not deferred[1] then return replies end
      self.deferred = {}
      local mine = {}
      for i = 1, #deferred do
        local r = replies[i]
        if type(r) == "table" and r.err then
          local text = ("a deferred %s failed: Redis at %s: %s"):format(deferred[i][1], self.url, r.err)
          if self.log then self.log(text) else error(text, 2) end
        end
      end
      for i = 1, #cmds do mine[i] = replies[#deferred + i] end
      return mine
    end
    if kind == "reply" then error(("Redis at %s: %s"):format(self.url, err), 2) end
    self:recover(err)
  end
end

-- Write-behind. A command whose reply nobody waits for — a worker's stored
-- result and its ack — need not cost a round trip of its own: later()
-- returns a view of this link whose commands are queued instead of sent,
-- and the next call or pipeline on the link sends them first, in the same
-- write. Redis runs one connection's commands in order, so they take effect
-- before the command they ride with (a worker's result and ack reach Redis
-- with its next BRPOP, which then blocks). Their replies are checked when
-- that command's come back: an error is logged (or raised, on a link with
-- no log). A link that reconnects sends them again (ZREM/HDEL and the
-- store script are safe to repeat). flush() sends them now.
local Later = {}
Later.__index = Later
setmetatable(Later, {__index = Link})

function Later:call(...) self.link:defer{{...}} end
function Later:pipeline(cmds) self.link:defer(cmds) end

function Link:later() return setmetatable({link = self, url = self.url}, Later) end

function Link:defer(cmds)
  for i = 1, #cmds do self.deferred[#self.deferred + 1] = cmds[i] end
end

function Link:flush()
  if self.deferred[1] then self:pipeline({}) end
end

-- transaction() is MULTI, the commands, EXEC; returns EXEC's replies (nil
-- on a later() view: nothing has run yet).
function Link:transaction(cmds)
  local all = {{"MULTI"}}
  for i = 1, #cmds do all[#all + 1] = cmds[i] end
  all[#all + 1] = {"EXEC"}
  local replies = self:pipeline(all)
  if replies == nil then return nil end
  local exec = replies[#replies]
  if type(exec) == "table" and exec.err then error(("Redis at %s: %s"):format(self.url, exec.err), 2) end
  return exec
end

-- close() sends what is deferred first (if Redis is there to take it).
function Link:close()
  if self.deferred[1] then pcall(self.flush, self) end
  self.conn:close()
end

---------------------------------------------------------------------------
-- Queues

-- priority_step() rounds a priority down to one of PRIORITY_STEPS.
function M.priority_step(priority)
  local p = math.tointeger(priority) or 0
  local step = 0
  for _, s in ipairs(M.PRIORITY_STEPS) do if p >= s then step = s end end
  return step
end

-- queue_key() is the list a message of `priority` on `queue` waits in.
function M.queue_key(queue, priority)
  local step = M.priority_step(priority)
  if step == 0 then return queue end
  return queue .. M.SEP .. step
end

-- consume_keys() lists BRPOP's keys for `queues`: every queue, each with
-- its priority lists, highest priority (lowest number) first.
function M.consume_keys(queues)
  local keys = {}
  for _, q in ipairs(queues) do
    for _, s in ipairs(M.PRIORITY_STEPS) do keys[#keys + 1] = M.queue_key(q, s) end
  end
  return keys
end

-- binding() is the _kombu.binding set and member of queue's declaration.
function M.binding(queue)
  return "_kombu.binding." .. queue, queue .. M.SEP .. M.SEP .. queue
end

-- declare() records the queue's binding, as kombu's queue_declare/bind do.
function Link:declare(queue)
  if self.declared[queue] then return end
  local set, member = M.binding(queue)
  self:call("SADD", set, member)
  self.declared[queue] = true
end

-- publish() puts a task envelope (protocol.task_message) on its queue.
function Link:publish(queue, envelope)
  local text = protocol.json(envelope, "message")
  self:declare(queue)
  self:call("LPUSH", M.queue_key(queue, envelope.properties.priority), text)
end

-- get() waits up to `timeout` seconds (BRPOP_TIMEOUT) for a message on
-- `keys` (consume_keys); returns the list it came from and the text, or nil.
function Link:get(keys, timeout)
  timeout = timeout or M.BRPOP_TIMEOUT
  self.conn:settimeout(timeout + 10)
  local cmd = {"BRPOP"}
  for i = 1, #keys do cmd[i + 1] = keys[i] end
  cmd[#cmd + 1] = tostring(timeout)
  local ok, reply = pcall(self.call, self, table.unpack(cmd))
  self.conn:settimeout(30)
  if not ok then error(reply, 0) end
  if type(reply) == "table" then return reply[1], reply[2] end
  return nil
end

---------------------------------------------------------------------------
-- Acknowledgement emulation (kombu's QoS)

-- unacked_value() is the HSET value kombu writes: [envelope, exchange, rk].
local function unacked_value(raw, exchange, routing_key)
  return "[" .. raw .. ", " .. protocol.json(exchange or "") .. ", " .. protocol.json(routing_key or "") .. "]"
end

-- hold() records a message as delivered and not yet acknowledged.
function Link:hold(msg)
  self:transaction{
    {"ZADD", M.UNACKED_INDEX, ("%.7f"):format(core.now()), msg.tag},
    {"HSET", M.UNACKED, msg.tag, unacked_value(msg.raw, msg.exchange, msg.queue)},
  }
end

-- ack() forgets a delivered message: it is done.
function Link:ack(tag)
  self:transaction{{"ZREM", M.UNACKED_INDEX, tag}, {"HDEL", M.UNACKED, tag}}
end

-- redelivered() marks an envelope's text as redelivered, as kombu's
-- _do_restore_message does, by inserting the keys into its text: decoding
-- and re-encoding would lose what Lua cannot hold (nulls inside arrays,
-- e.g. "timelimit": [null, null]).
local function redelivered(text)
  if text:find('"redelivered"', 1, true) then return text end
  text = text:gsub('^(%s*{.-"headers":%s*{)', '%1"redelivered": true, ', 1)
  text = text:gsub('("delivery_info":%s*{)', '%1"redelivered": true, ', 1)
  text = text:gsub('"redelivered": true, }', '"redelivered": true}')  -- it was empty
  return text
end

-- split_unacked() takes [envelope, exchange, routing_key] apart, keeping the
-- envelope's text as it was.
local function split_unacked(value)
  local env, ex, rk = value:match('^%[(.*),%s*("[^"\\]*"),%s*("[^"\\]*")%]%s*$')
  if not env then return nil end
  return env, protocol.unjson(ex), protocol.unjson(rk)
end

-- lookup() is kombu's Channel._lookup for direct exchanges: the default
-- exchange ("") routes to the queue named by the routing key; another one to
-- the queues bound to it with that key (or the key itself if none is).
function Link:lookup(exchange, routing_key)
  if exchange == nil or exchange == "" then return {routing_key} end
  local queues = {}
  for _, member in ipairs(self:call("SMEMBERS", "_kombu.binding." .. exchange) or {}) do
    local rk, _, queue = member:match("^(.-)" .. M.SEP .. "(.-)" .. M.SEP .. "(.*)$")
    if rk == routing_key then queues[#queues + 1] = queue end
  end
  if #queues == 0 then queues[1] = routing_key end
  return queues
end

-- restore() puts an unacknowledged message back at the head of its queue
-- (`leftmost`: at the tail) and forgets it; false if it was not there.
function Link:restore(tag, leftmost)
  while true do
    local replies = self:pipeline{{"WATCH", M.UNACKED}, {"HGET", M.UNACKED, tag}}
    local value = replies[2]
    local cmds = {{"ZREM", M.UNACKED_INDEX, tag}, {"HDEL", M.UNACKED, tag}}
    if value then
      local env, ex, rk = split_unacked(value)
      if env then
        for _, queue in ipairs(self:lookup(ex, rk)) do
          cmds[#cmds + 1] = {leftmost and "LPUSH" or "RPUSH", queue, redelivered(env)}
        end
      end
    end
    local exec = self:transaction(cmds)
    if exec then return value ~= nil and value ~= false end
    -- EXEC answered nil: `unacked` changed under WATCH; try again.
  end
end

-- restore_visible() restores every message unacknowledged for longer than
-- `visibility_timeout` seconds, if no other consumer is doing it right now.
-- Returns how many it restored.
function Link:restore_visible(visibility_timeout)
  local token = core.uuid():gsub("-", "")
  local got = self:call("SET", M.UNACKED_MUTEX, token, "PX", tostring(M.MUTEX_EXPIRE_MS), "NX")
  if got ~= "OK" then return 0 end
  local ok, result = pcall(function()
    local ceil = core.now() - (visibility_timeout or M.VISIBILITY_TIMEOUT)
    local visible = self:call("ZREVRANGEBYSCORE", M.UNACKED_INDEX, ("%.7f"):format(ceil), "0", "WITHSCORES")
    local n = 0
    for i = 1, #visible, 2 do
      if self:restore(visible[i]) then n = n + 1 end
    end
    return n
  end)
  self:call("EVAL", UNLOCK_SCRIPT, "1", M.UNACKED_MUTEX, token)
  if not ok then error(result, 0) end
  return result
end

return M
