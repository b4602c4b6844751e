-- executors_jobs.lua — the data scripts/executors.lua and the `gilrun bench`
-- experiment scripts/bench/executors.lua share: the two jobs and the
-- executors they run through.
--
--   CPU-bound: fib(n) for each of 4 items            (only processes help)
--   I/O-bound: `sleeps` sleeps of `sleep` s ("fetch a URL")  (threads, green threads help)
local futures = require "futures"

local M = {}

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end
M.fib = fib

-- jobs() is the two jobs: {key=, name=, fn=, items=}.
function M.jobs(n, sleeps, sleep)
  local function fetch(url) require("time").sleep(sleep) return #url end  -- stands in for I/O
  local io = {}
  for i = 1, sleeps do io[i] = ("https://example.com/%d"):format(i) end
  return {
    {key = "cpu", name = ("cpu: fib(%d) x 4"):format(n), fn = fib, items = {n, n, n, n}},
    {key = "io", name = ("io: %d x sleep %g ms"):format(sleeps, sleep * 1e3), fn = fetch, items = io},
  }
end

-- executors() is {key=, name=, make=} for each executor; sequential has no
-- make. `workers` is the pools' size for CPU work, `io_workers` for I/O.
function M.executors(workers, io_workers)
  return {
    {key = "seq", name = "sequential"},
    {key = "threads", name = ("thread_pool(%d)"):format(workers),
     make = function() return futures.thread_pool(workers) end},
    {key = "threads_io", name = ("thread_pool(%d)"):format(io_workers), io_only = true,
     make = function() return futures.thread_pool(io_workers) end},
    {key = "green", name = ("green_pool(%d)"):format(io_workers),
     make = function() return futures.green_pool(io_workers) end},
    {key = "procs", name = ("process_pool(%d)"):format(workers),
     make = function() return futures.process_pool(workers) end},
  }
end

-- run() is the wall time of `job` through `executor` (median of `runs`).
-- Executors are made outside the timing, as a long-lived pool would be, and
-- their workers started by one item first.
function M.run(executor, job, runs, clock)
  local function median(xs)
    table.sort(xs)
    return xs[(#xs + 1) // 2]
  end
  local function timed(fn)
    local samples = {}
    for r = 1, runs do
      local t0 = clock()
      fn()
      samples[r] = clock() - t0
    end
    return median(samples)
  end
  if not executor.make then
    return timed(function() for _, x in ipairs(job.items) do job.fn(x) end end)
  end
  local ex <close> = executor.make()
  ex:map(job.fn, {job.items[1]})
  return timed(function() ex:map(job.fn, job.items) end)  -- the one line
end

return M
