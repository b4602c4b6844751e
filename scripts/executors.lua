-- executors.lua — the talks' whole lesson on one screen: the same two jobs
-- through each futures executor, with one line changed between them.
--
--   CPU-bound: fib(N) for each of 4 items       (only processes help)
--   I/O-bound: 100 sleeps of 50 ms ("fetch a URL")  (threads and green threads help)
--
--   gilrun scripts/executors.lua [N=30] [runs=3]
--   gilrun --gil=isolated scripts/executors.lua   (threads get their own VMs)
--
-- Each cell is the median wall time of `runs` runs and its ratio to running
-- the same items one after the other. Executors are created outside the
-- timing, as a long-lived pool would be.
local futures = require "futures"
local process = require "process"
local time = require "time"
local gil = require "gil"

local N = tonumber(arg and arg[1]) or 30
local RUNS = tonumber(arg and arg[2]) or 3
local CPUS = process.cpu_count()

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end
local function fetch(url) require("time").sleep(0.05) return #url end  -- stands in for I/O

local jobs = {
  {name = ("cpu: fib(%d) x 4"):format(N), fn = fib, items = {N, N, N, N}},
  {name = "io: 100 x sleep 50 ms", fn = fetch, items = {}},
}
for i = 1, 100 do jobs[2].items[i] = ("https://example.com/%d"):format(i) end

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

local function timed(run)
  local samples = {}
  for r = 1, RUNS do
    local t0 = time.monotonic()
    run()
    samples[r] = time.monotonic() - t0
  end
  return median(samples)
end

local executors = {
  {"sequential", nil},
  {("thread_pool(%d)"):format(CPUS), function() return futures.thread_pool(CPUS) end},
  {"thread_pool(100)", function() return futures.thread_pool(100) end},
  {"green_pool(100)", function() return futures.green_pool(100) end},
  {("process_pool(%d)"):format(CPUS), function() return futures.process_pool(CPUS) end},
}

print(("futures executors, GIL policy %s, %d CPUs, median of %d runs (wall s, ratio to sequential)"):format(
  gil.policy(), CPUS, RUNS))
print(("%-20s %-26s %-26s"):format("executor", jobs[1].name, jobs[2].name))
local base = {}
for _, e in ipairs(executors) do
  local cells = {}
  for j, job in ipairs(jobs) do
    local seconds
    if not e[2] then
      seconds = timed(function() for _, x in ipairs(job.items) do job.fn(x) end end)
      base[j] = seconds
    else
      local ex <close> = e[2]()
      ex:map(job.fn, {job.items[1]})  -- workers started
      seconds = timed(function() ex:map(job.fn, job.items) end)  -- the one line
    end
    cells[j] = ("%8.3f s  %5.2fx"):format(seconds, seconds / base[j])
  end
  print(("%-20s %-26s %-26s"):format(e[1], cells[1], cells[2]))
end
