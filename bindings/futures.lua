-- futures.lua — the `futures` module: one executor API over OS threads,
-- green threads and processes (Python's concurrent.futures for Lua).
--
--   local ex <close> = futures.thread_pool([n]) | futures.green_pool([n])
--                    | futures.process_pool([n])
--   ex:submit(fn, ...) --> future       ex:map(fn, list [, {timeout=, chunksize=}])
--   ex:shutdown([{wait = true, cancel_futures = false}])       ex:size()
--   f:result([timeout]) f:exception([timeout]) f:done() f:running()
--   f:cancelled() f:cancel() f:add_done_callback(fn)
--   f:traceback() --> where the task's error was raised (any error value), or nil
--   futures.future() --> f with f:set_result(...), f:set_exception(e)
--   futures.as_completed(list [, timeout]) --> iterator over finished futures
--   futures.wait(list [, {timeout=, return_when = "all" | "first_completed"
--                                     | "first_exception"}]) --> done, not_done
--
-- Notes on the design
-- -------------------
-- This module is written in Lua, on top of thread, green, sync, queue and
-- process, and embedded into the binary at build time (cmake/embed.cmake;
-- futures.cpp loads it as "@futures.lua"). Like CPython's concurrent.futures,
-- which is pure Python for the same reason, it coordinates and computes
-- nothing: every wait in it is a queue get, so it releases the GIL in an OS
-- thread, yields to the hub in a green thread and is ended by Ctrl-C exactly
-- like those primitives, with no C++ of its own to get wrong (no longjmp
-- over destructors, no second notion of "waiting").
--
-- State. A future is a table: _state is "pending" -> "running" -> "finished",
-- or "pending" -> "cancelled". Every transition, and every list a future
-- keeps (waiters, callbacks), is changed under one module-wide sync.lock,
-- `guard`: the GIL can switch OS threads between any two VM instructions, so
-- "cancel vs start" must be a real critical section (exactly one of them
-- sees "pending"). Critical sections never block, never raise and never
-- call user code; one lock costs no parallelism, since all this Lua runs
-- under the GIL anyway.
--
-- Waiting. A waiter (result, exception, as_completed, wait, shutdown) puts
-- a fresh queue.new() on the futures' _waiters; settling a future puts the
-- future into each waiter's queue, and runs the done callbacks, after the
-- lock is released, in the thread that settled it.
--
-- Executors. All three share submit/map/shutdown; they differ in `_start`:
--  * thread_pool, shared VM: up to n daemon OS threads started as tasks
--    arrive, each taking futures from one queue (Python's ThreadPoolExecutor).
--  * thread_pool under --gil=isolated: each task runs on a new isolated
--    thread (thread.spawn there gives every thread its own VM; function,
--    arguments and results are copied). Up to n "runner" green threads, on
--    the hub of the OS thread that submitted, spawn and join them, so a
--    runner waits without holding anything.
--  * green_pool: up to n green threads on the submitting OS thread's hub,
--    started as tasks arrive, leaving when no task is left (so a script's
--    end, which waits for its green threads, waits for them too).
--  * process_pool: the one process.pool, with this module's futures in
--    front: at most n tasks are handed to it at a time (the rest wait here,
--    so they can still be cancelled), and a collector green thread waits on
--    the pool with pool:wait_completed (process/pool.cpp), settles
--    the finished ones and hands over the next, leaving when none is in
--    flight. One starts on the submitting OS thread's hub, and every OS
--    thread that waits on such a future starts one on its own hub (the pool
--    lets several wait: one pumps, the others are woken), so a waiter never
--    depends on another OS thread blocking, and a result reaches it with no
--    hop through a helper thread. Works the same under --gil=isolated.
--
-- Exit. Like process.pool, an executor that was never shut down does not
-- hold up the end of the script for tasks not yet started by an OS thread:
-- the thread pool's workers are daemon threads. Green workers, green
-- runners and collectors are green threads, which the end of the script
-- (or of the OS thread that spawned them) waits for, so their tasks finish.
-- Shut an executor down (or use <close>) to wait for its tasks.
local _, native = ...  -- futures.cpp: os_thread(), report(text)
local os_thread, report = native.os_thread, native.report
local thread = require "thread"
local green = require "green"
local sync = require "sync"
local queue = require "queue"
local time = require "time"
local gil = require "gil"
local process = require "process"

local pack, unpack = table.pack, table.unpack
local PENDING, RUNNING, CANCELLED, FINISHED = "pending", "running", "cancelled", "finished"

local guard = sync.lock()

local M = {}

---------------------------------------------------------------------------
-- Futures

local Future = {}
Future.__index = Future
Future.__name = "futures.future"

-- new_future() makes a future with every field it will have (false: not
-- yet), so that settling it never grows the table. _waiters is false, one
-- waiter queue, or a list of them (wait and as_completed add more).
local function new_future(executor, fn, args)
  return setmetatable({_state = PENDING, _executor = executor, _fn = fn, _args = args,
                       _outcome = false, _waiters = false, _callbacks = false}, Future)
end

local NO_ARGS = pack()  -- shared by every task submitted without arguments; never changed

function M.future() return new_future(false, false, false) end

function Future:__tostring()
  return ("future (%s)"):format(self._state)
end

-- with_traceback() is the message handler for tasks and callbacks.
local function with_traceback(e)
  if type(e) == "string" then return debug.traceback(e, 2) end
  return e
end

-- run_callback() runs one done callback; its error goes to the host's
-- report sink (the command line prints it on stderr).
local function run_callback(fn, f)
  local ok, err = xpcall(fn, with_traceback, f)
  if not ok then report("gilrun: futures: a done callback failed: " .. tostring(err)) end
end

-- idle_locked() counts one of the executor's futures done; returns the
-- queues of shutdown waiters to wake when none is left.
local function idle_locked(ex)
  if not ex then return false end
  ex._outstanding = ex._outstanding - 1
  if ex._outstanding > 0 or not ex._idle_waiters then return nil end
  local waiters = ex._idle_waiters
  ex._idle_waiters = nil
  return waiters
end

-- wake() tells the waiters and runs the callbacks of a future that has just
-- become done (called with the lock released).
local function wake(f, waiters, callbacks, idle_waiters)
  if waiters then
    if type(waiters) == "table" then
      for i = 1, #waiters do waiters[i]:put(f) end
    else
      waiters:put(f)
    end
  end
  if idle_waiters then for i = 1, #idle_waiters do idle_waiters[i]:put(true) end end
  if callbacks then for i = 1, #callbacks do run_callback(callbacks[i], f) end end
end

-- finish() settles f with `outcome`, pack(true, results...) or pack(false,
-- error) as pcall returns them; false if f was already done.
local function finish(f, outcome)
  guard:acquire()
  local state = f._state
  if state == FINISHED or state == CANCELLED then
    guard:release()
    return false
  end
  f._state, f._outcome = FINISHED, outcome
  f._fn, f._args = false, false
  local waiters, callbacks = f._waiters, f._callbacks
  f._waiters, f._callbacks = false, false
  local idle_waiters = idle_locked(f._executor)
  guard:release()
  wake(f, waiters, callbacks, idle_waiters)
  return true
end

-- claim() is the start of a task: true if f was pending (it is running now),
-- false if it was cancelled first. Exactly one of claim() and cancel() wins.
local function claim(f)
  guard:acquire()
  local won = f._state == PENDING
  if won then f._state = RUNNING end
  guard:release()
  return won
end

function Future:cancel()
  guard:acquire()
  local state = self._state
  if state ~= PENDING then
    guard:release()
    return state == CANCELLED
  end
  self._state = CANCELLED
  self._fn, self._args = false, false
  local waiters, callbacks = self._waiters, self._callbacks
  self._waiters, self._callbacks = false, false
  local idle_waiters = idle_locked(self._executor)
  guard:release()
  wake(self, waiters, callbacks, idle_waiters)
  return true
end

function Future:done()
  local state = self._state
  return state == FINISHED or state == CANCELLED
end

function Future:running() return self._state == RUNNING end
function Future:cancelled() return self._state == CANCELLED end

function Future:set_result(...)
  if not finish(self, pack(true, ...)) then error("set_result: the future is already done", 2) end
end

function Future:set_exception(e)
  if not finish(self, pack(false, e)) then error("set_exception: the future is already done", 2) end
end

function Future:add_done_callback(fn)
  guard:acquire()
  if not self:done() then
    local callbacks = self._callbacks or {}
    callbacks[#callbacks + 1] = fn
    self._callbacks = callbacks
    guard:release()
    return
  end
  guard:release()
  run_callback(fn, self)
end

-- add_waiter_locked() and remove_waiter() keep f's waiter queues: the
-- first one alone (a single result() needs no list), more in a list.
local function add_waiter_locked(f, q)
  local waiters = f._waiters
  if not waiters then
    f._waiters = q
  elseif type(waiters) == "table" then
    waiters[#waiters + 1] = q
  else
    f._waiters = {waiters, q}
  end
end

-- remove_waiter_locked() returns false if q was not there any more (f was
-- settled: a put into q is on its way).
local function remove_waiter_locked(f, q)
  local waiters = f._waiters
  if waiters == q then
    f._waiters = false
    return true
  elseif type(waiters) == "table" then
    for i = #waiters, 1, -1 do
      if waiters[i] == q then
        table.remove(waiters, i)
        return true
      end
    end
  end
  return false
end

local function remove_waiter(f, q)
  guard:acquire()
  local removed = remove_waiter_locked(f, q)
  guard:release()
  return removed
end

-- assist() lets f's executor prepare for a wait on the calling OS thread
-- (process_pool: a collector on this thread's hub).
local function assist(f)
  local ex = f._executor
  if ex and ex._assist then ex:_assist() end  -- a field of every executor (false: none)
end

-- Single-future waits reuse one waiter queue per coroutine (OS thread or
-- green thread); a queue that may still receive a late put is dropped.
local spare_queues = setmetatable({}, {__mode = "k"})

-- wait_done() waits until f is done; false on timeout.
local function wait_done(f, timeout)
  local state = f._state
  if state == FINISHED or state == CANCELLED then return true end
  assist(f)
  local co = coroutine.running()
  local q = spare_queues[co] or queue.new()
  spare_queues[co] = nil
  guard:acquire()
  state = f._state
  if state == FINISHED or state == CANCELLED then
    guard:release()
    spare_queues[co] = q
    return true
  end
  add_waiter_locked(f, q)
  guard:release()
  if q:get(timeout) then
    spare_queues[co] = q
    return true
  end
  if remove_waiter(f, q) then spare_queues[co] = q end
  return f:done()
end

local function check_timeout(timeout, arg, name)
  if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0) then
    error(("bad argument #%d to '%s' (timeout must be a number >= 0 or nil)"):format(arg, name), 3)
  end
end

function Future:result(timeout)
  if timeout ~= nil then check_timeout(timeout, 1, "result") end
  if not wait_done(self, timeout) then return nil, "timeout" end
  if self._state == CANCELLED then error("cancelled", 2) end
  local outcome = self._outcome
  if not outcome[1] then error(outcome[2], 0) end  -- as the task raised it, traceback included
  return unpack(outcome, 2, outcome.n)
end

-- traceback() is where a failed task's error was raised: the traceback kept
-- beside a non-string error (a table raised by the task is passed through
-- result() as it is), or the string error itself, which carries it. Nil
-- while the future is not done, when it succeeded or was cancelled, and for
-- set_exception().
function Future:traceback()
  local outcome = self._state == FINISHED and self._outcome
  if not outcome or outcome[1] then return nil end
  if outcome.traceback then return outcome.traceback end
  if type(outcome[2]) == "string" and outcome[2]:find("stack traceback:", 1, true) then return outcome[2] end
  return nil
end

function Future:exception(timeout)
  check_timeout(timeout, 1, "exception")
  if not wait_done(self, timeout) then return nil, "timeout" end
  if self._state == CANCELLED then error("cancelled", 2) end
  local outcome = self._outcome
  if outcome[1] then return nil end
  return outcome[2]
end

local function is_future(f) return getmetatable(f) == Future end

---------------------------------------------------------------------------
-- Waiting on many

-- watch() registers one queue on every future of `list` not yet done and
-- puts the ones already done into it (in list order). Returns the queue and
-- the distinct futures.
local function watch(list, name)
  if type(list) ~= "table" then error(("bad argument #1 to '%s' (list of futures expected)"):format(name), 3) end
  local distinct, seen = {}, {}
  for i = 1, #list do
    local f = list[i]
    if not is_future(f) then
      error(("bad argument #1 to '%s' (list of futures expected, item %d is a %s)"):format(
        name, i, type(f)), 3)
    end
    if not seen[f] then
      seen[f] = true
      distinct[#distinct + 1] = f
    end
  end
  local assisted = {}
  for i = 1, #distinct do
    local ex = distinct[i]._executor
    if ex and not assisted[ex] and not distinct[i]:done() then
      assisted[ex] = true
      assist(distinct[i])
    end
  end
  local q = queue.new()
  guard:acquire()
  for i = 1, #distinct do
    local f = distinct[i]
    if f:done() then q:put(f) else add_waiter_locked(f, q) end
  end
  guard:release()
  return q, distinct
end

local function unwatch(distinct, q)
  for i = 1, #distinct do
    if not distinct[i]:done() then remove_waiter(distinct[i], q) end
  end
end

local function remaining(deadline)
  if not deadline then return nil end
  local left = deadline - time.monotonic()
  return left > 0 and left or 0
end

function M.as_completed(list, timeout)
  check_timeout(timeout, 2, "as_completed")
  local q, distinct = watch(list, "as_completed")
  local deadline = timeout and time.monotonic() + timeout
  local yielded, total = 0, #distinct
  return function()
    if yielded == total then return nil end
    local f = q:get(remaining(deadline))
    if not f then
      unwatch(distinct, q)
      error(("timeout: %d of %d futures unfinished"):format(total - yielded, total), 2)
    end
    yielded = yielded + 1
    return f
  end
end

local RETURN_WHEN = {all = true, first_completed = true, first_exception = true}

local function failed(f) return f._state == FINISHED and not f._outcome[1] end

function M.wait(list, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'wait' (table of options expected)", 2)
  end
  opts = opts or {}
  local timeout, return_when = opts.timeout, opts.return_when or "all"
  check_timeout(timeout, 2, "wait")
  if not RETURN_WHEN[return_when] then
    error(("bad argument #2 to 'wait' (return_when must be \"all\", \"first_completed\" or " ..
           "\"first_exception\", got %s)"):format(tostring(return_when)), 2)
  end
  local q, distinct = watch(list, "wait")
  local deadline = timeout and time.monotonic() + timeout
  local finished = 0
  while finished < #distinct do
    local f = q:get(remaining(deadline))
    if not f then break end
    finished = finished + 1
    if return_when == "first_completed" then break end
    if return_when == "first_exception" and failed(f) then break end
  end
  unwatch(distinct, q)
  local done, not_done = {}, {}
  for i = 1, #distinct do
    local f = distinct[i]
    if f:done() then done[#done + 1] = f else not_done[#not_done + 1] = f end
  end
  return done, not_done
end

---------------------------------------------------------------------------
-- Executors

local Executor = {}
Executor.__index = Executor

-- Every executor queues its submitted futures in one FIFO (_fifo, slots
-- _head.._tail-1), popped as they start; shutdown{cancel_futures = true}
-- cancels the ones still pending there.
local function new_executor(kind, n)
  return {
    _kind = kind,
    _n = n,
    _outstanding = 0,  -- futures submitted and not yet done
    _fifo = {}, _head = 1, _tail = 1,
    _shutdown = false,
    _assist = false,   -- process_pool's, for waits (see assist())
  }
end

function Executor:__tostring()
  return ("futures.%s(%d)%s"):format(self._kind, self._n, self._shutdown and " (shut down)" or "")
end

function Executor:size() return self._n end

function Executor:submit(fn, ...)
  if not self or getmetatable(self) == nil or not self._kind then
    error("bad argument #1 to 'submit' (executor expected; call it as ex:submit(fn, ...))", 2)
  end
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'submit' (function expected, got %s)"):format(type(fn)), 2)
  end
  local f = new_future(self, fn, select("#", ...) == 0 and NO_ARGS or pack(...))
  guard:acquire()
  if self._shutdown then
    guard:release()
    error(("cannot submit to a %s that was shut down"):format(self._kind), 2)
  end
  self._outstanding = self._outstanding + 1
  local tail = self._tail
  self._fifo[tail] = f
  self._tail = tail + 1
  local grow = self:_queued_locked()
  guard:release()
  if grow then self:_grow(f, grow) end
  return f
end

-- run_chunk() runs fn over one chunk of map's list (it travels to processes
-- and isolated threads, so it uses nothing but its arguments and globals).
local function run_chunk(fn, chunk, first)
  local results = {}
  for i = 1, #chunk do
    local ok, value = xpcall(fn, debug.traceback, chunk[i])
    if not ok then return false, first + i - 1, value end
    results[i] = value
  end
  return true, results
end

function Executor:map(fn, list, opts)
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'map' (function expected, got %s)"):format(type(fn)), 2)
  end
  if type(list) ~= "table" then
    error(("bad argument #2 to 'map' (table expected, got %s)"):format(type(list)), 2)
  end
  opts = opts or {}
  local timeout, chunksize = opts.timeout, opts.chunksize or 1
  check_timeout(timeout, 3, "map")
  if math.type(chunksize) ~= "integer" or chunksize < 1 then
    error("bad argument #3 to 'map' (chunksize must be an integer >= 1)", 2)
  end
  local deadline = timeout and time.monotonic() + timeout
  local n = #list
  local fs = {}
  if chunksize == 1 then
    for i = 1, n do fs[i] = self:submit(fn, list[i]) end
  else
    for first = 1, n, chunksize do
      fs[#fs + 1] = self:submit(run_chunk, fn, {unpack(list, first, math.min(first + chunksize - 1, n))}, first)
    end
  end
  local results = {}
  for k = 1, #fs do
    local f = fs[k]
    if not wait_done(f, remaining(deadline)) then
      for j = k, #fs do fs[j]:cancel() end
      return nil, "timeout"
    end
    local index, err
    if f._state == CANCELLED then
      index, err = chunksize == 1 and k or (k - 1) * chunksize + 1, "cancelled"
    elseif not f._outcome[1] then
      index, err = chunksize == 1 and k or (k - 1) * chunksize + 1, f._outcome[2]
    elseif chunksize == 1 then
      results[k] = f._outcome[2]
    else
      local out = f._outcome  -- true, run_chunk's results
      if not out[2] then
        index, err = out[3], out[4]
      else
        local base = (k - 1) * chunksize
        for i = 1, chunksize do results[base + i] = out[3][i] end
      end
    end
    if index then
      for j = k + 1, #fs do fs[j]:cancel() end
      error(("map: item %d: %s"):format(index, tostring(err)), 0)
    end
  end
  return results
end

function Executor:shutdown(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'shutdown' (table of options expected)", 2)
  end
  local wait = not opts or opts.wait ~= false
  local cancel = opts and opts.cancel_futures
  guard:acquire()
  self._shutdown = true
  local pending = {}
  if cancel then
    for i = self._head, self._tail - 1 do
      local f = self._fifo[i]
      if f._state == PENDING then pending[#pending + 1] = f end
    end
  end
  guard:release()
  for i = 1, #pending do pending[i]:cancel() end
  if wait then
    if self._assist then self:_assist() end
    guard:acquire()
    if self._outstanding > 0 then
      local q = queue.new()
      local waiters = self._idle_waiters or {}
      waiters[#waiters + 1] = q
      self._idle_waiters = waiters
      guard:release()
      q:get()
    else
      guard:release()
    end
  end
  self:_stop(wait)
end

Executor.__close = function(self) self:shutdown() end

local function check_size(n, default, name)
  if n == nil then return default end
  if math.type(n) ~= "integer" or n < 1 then
    error(("bad argument #1 to '%s' (worker count must be an integer >= 1)"):format(name), 3)
  end
  return n
end

-- pop_locked() takes the next future that is still pending out of ex's
-- FIFO and marks it running (a cancelled one is skipped); nil if none.
local function pop_locked(ex)
  local fifo, head, tail = ex._fifo, ex._head, ex._tail
  while head < tail do
    local f = fifo[head]
    fifo[head] = nil
    head = head + 1
    if f._state == PENDING then
      f._state = RUNNING
      ex._head = head
      return f
    end
  end
  ex._head, ex._tail = 1, 1  -- empty: start again at the first slot
  return nil
end

local function next_task(ex)
  guard:acquire()
  local f = pop_locked(ex)
  guard:release()
  return f
end

-- Raised carries a task's non-string error and the traceback of where it
-- was raised from the message handler to run_here(), which unwraps it.
local Raised = {}

local function task_error(e)
  if type(e) == "string" then return debug.traceback(e, 2) end
  return setmetatable({e, debug.traceback(("(error object is a %s value)"):format(type(e)), 2)}, Raised)
end

-- run_here() runs f's task on this thread. A string error carries its
-- traceback; any other error value is passed through as it is, with the
-- traceback kept beside it in the outcome (f:traceback()).
local function run_here(f)
  local args = f._args
  local outcome = pack(xpcall(f._fn, task_error, unpack(args, 1, args.n)))
  if not outcome[1] and getmetatable(outcome[2]) == Raised then
    outcome[2], outcome.traceback = outcome[2][1], outcome[2][2]
  end
  finish(f, outcome)
end

-- executor_class() is a new kind of executor: Executor's methods, and its
-- __close and __tostring (metamethods are not found through __index).
local function executor_class()
  local class = setmetatable({}, {__index = Executor})
  class.__index = class
  class.__close = Executor.__close
  class.__tostring = Executor.__tostring
  return class
end

---- thread_pool, shared VM

local SharedThreadPool = executor_class()

-- Each submit puts a token into _jobs; a worker that takes one runs the
-- next pending future of the FIFO, if any is left (a token can outlive
-- its future: cancelled, or run by a worker that came for an earlier one).
local function thread_worker(ex)
  local jobs = ex._jobs
  while jobs:get() do  -- nil: closed by shutdown, and drained
    local f = next_task(ex)
    if f then run_here(f) end
  end
end

-- _queued_locked() is told that a future was queued (guard held, the
-- executor not shut down, so _jobs is open); it returns what _grow() needs
-- to start one more worker (here: the index reserved for it), or false.
function SharedThreadPool:_queued_locked()
  self._jobs:put(true)
  local workers = self._workers
  local index = #workers + 1
  if index > self._n or index > self._outstanding then return false end
  workers[index] = false  -- reserved
  return index
end

function SharedThreadPool:_grow(f, index)
  local ok, h = pcall(thread.spawn, {thread_worker, self,
                                     name = ("futures-%d"):format(index), daemon = true})
  if ok then
    self._workers[index] = h
  elseif index == 1 then  -- nobody to run the task: fail it rather than hang
    self._workers[index] = nil
    if claim(f) then finish(f, pack(false, "futures: cannot start a worker thread: " .. tostring(h))) end
  end
end

function SharedThreadPool:_stop(wait)
  self._jobs:close()
  if wait then
    for i = 1, #self._workers do
      local h = self._workers[i]
      if h and h ~= thread.current() then h:join() end
    end
  end
end

---- thread_pool under --gil=isolated, and green_pool

-- Both keep up to n green threads on the hub of the OS thread that
-- submits, counted in _workers, started as tasks arrive. A worker that
-- finds nothing queued stays for one turn of the hub (counted in
-- _idle[its OS thread]: a thread that submits and waits right after finds
-- it there, instead of starting a green thread per task) and leaves if
-- still nothing came, so an idle pool holds no green thread up (the end of
-- a script waits for them). Submit starts a worker while fewer are idle on
-- the submitting OS thread's hub than tasks are queued: a task never waits
-- for an idle worker on another OS thread's hub, which runs only when that
-- thread blocks.
local function green_worker(ex, run)
  local here = os_thread()
  while true do
    local f = next_task(ex)
    while f do
      run(f)
      f = next_task(ex)
    end
    guard:acquire()
    f = pop_locked(ex)  -- one critical section with the counting: a submit
    if not f then       -- now sees this worker idle, and one after it leaves
      local idle = ex._idle
      idle[here] = (idle[here] or 0) + 1
      guard:release()
      pcall(green.yield)  -- (raises only if killed: then it leaves)
      guard:acquire()
      idle[here] = idle[here] - 1
      f = pop_locked(ex)
      if not f then
        ex._workers = ex._workers - 1
        guard:release()
        return
      end
    end
    guard:release()
    run(f)
  end
end

local function queued_locked(ex)
  local workers = ex._workers
  if workers >= ex._n or ex._tail - ex._head <= (ex._idle[os_thread()] or 0) then return false end
  ex._workers = workers + 1
  return true
end

-- run_isolated() runs f's task on a new isolated thread (thread.spawn gives
-- it its own VM, copying function, arguments and results) and waits for it.
local function run_isolated(f)
  local args = f._args
  local spawned = pack(pcall(thread.spawn, f._fn, unpack(args, 1, args.n)))
  if spawned[1] then
    local h = spawned[2]
    local outcome = pack(pcall(h.join, h))
    if not outcome[1] and type(outcome[2]) ~= "string" then outcome.traceback = h:traceback() end
    finish(f, outcome)
  else
    finish(f, spawned)
  end
end

-- green_worker_pool() is an executor whose workers are green threads that
-- run each task with `run`.
local function green_worker_pool(run)
  local class = executor_class()
  class._queued_locked = queued_locked
  function class:_grow() green.spawn(green_worker, self, run) end
  function class:_stop() end
  return class
end

local IsolatedThreadPool = green_worker_pool(run_isolated)
local GreenPool = green_worker_pool(run_here)

---- process_pool

local ProcessPool = executor_class()

-- fill() hands waiting tasks to the process pool while fewer than n are in
-- flight, and starts a collector here if none runs anywhere.
function ProcessPool:_fill()
  local failures
  guard:acquire()
  while #self._inflight < self._n do
    local f = pop_locked(self)
    if not f then break end
    local args = f._args
    local ok, pf = pcall(self._pool.submit, self._pool, f._fn, unpack(args, 1, args.n))
    if ok then
      self._inflight[#self._inflight + 1] = {f = f, pf = pf}
    else
      failures = failures or {}
      failures[#failures + 1] = {f, pf}
    end
  end
  local anyone = next(self._collectors) ~= nil
  guard:release()
  if not anyone then self:_assist() end
  if failures then
    for i = 1, #failures do finish(failures[i][1], pack(false, failures[i][2])) end
  end
end

-- assist() starts a collector on the calling OS thread's hub, unless one
-- runs there or nothing is in flight. Every OS thread that waits on this
-- executor's futures collects for itself (process.pool lets several wait
-- at once: one pumps, the others are woken), so no thread depends on
-- another one blocking, and a result reaches its waiter without a hop
-- through a helper thread.
function ProcessPool:_assist()
  local tid = thread.current().id
  guard:acquire()
  local start = #self._inflight > 0 and not self._collectors[tid]
  if start then self._collectors[tid] = true end
  guard:release()
  if start then green.spawn(self._collect, self, tid) end
end

-- collect() is a collector's body: wait until the pool finished a task,
-- settle every finished one, hand over more; leave when none is in flight.
function ProcessPool:_collect(tid)
  local seen = -1  -- pool:completed() when the last round began (-1: none yet)
  while true do
    guard:acquire()
    local inflight = self._inflight
    if #inflight == 0 then
      self._collectors[tid] = nil
      guard:release()
      return
    end
    guard:release()
    local ok, err = pcall(self._pool.wait_completed, self._pool, seen)
    if not ok then  -- interrupted or killed: another wait will start a collector here
      guard:acquire()
      self._collectors[tid] = nil
      guard:release()
      error(err, 0)
    end
    guard:acquire()
    seen = self._pool:completed()
    local finished, kept = {}, {}
    for i = 1, #self._inflight do
      local entry = self._inflight[i]
      if entry.pf:done() then finished[#finished + 1] = entry else kept[#kept + 1] = entry end
    end
    self._inflight = kept
    guard:release()
    for i = 1, #finished do
      local pf = finished[i].pf
      local outcome = pack(pcall(pf.result, pf))
      if not outcome[1] and type(outcome[2]) ~= "string" then outcome.traceback = pf:traceback() end
      finish(finished[i].f, outcome)
    end
    self:_fill()
  end
end

function ProcessPool:_queued_locked() return true end
function ProcessPool:_grow() self:_fill() end

function ProcessPool:_stop(wait)
  if wait then
    self._pool:close()
    self._pool:join()
  end
end

---------------------------------------------------------------------------
-- Constructors

local function isolated() return gil.policy() == "isolated" end

function M.thread_pool(n)
  n = check_size(n, math.min(32, process.cpu_count() + 4), "thread_pool")  -- Python's default
  local ex = new_executor("thread_pool", n)
  if isolated() then
    ex._workers, ex._idle = 0, {}
    return setmetatable(ex, IsolatedThreadPool)
  end
  ex._jobs, ex._workers = queue.new(), {}
  return setmetatable(ex, SharedThreadPool)
end

function M.green_pool(n)
  n = check_size(n, 100, "green_pool")
  local ex = new_executor("green_pool", n)
  ex._workers, ex._idle = 0, {}
  return setmetatable(ex, GreenPool)
end

function M.process_pool(n)
  n = check_size(n, process.cpu_count(), "process_pool")
  local ex = new_executor("process_pool", n)
  ex._pool = process.pool(n)
  ex._inflight, ex._collectors, ex._assist = {}, {}, ProcessPool._assist
  return setmetatable(ex, ProcessPool)
end

return M
