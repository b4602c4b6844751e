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
-- the same items one after the other. The jobs and executors are
-- scripts/bench/executors_jobs.lua's, which `gilrun bench executors` runs too.
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "bench/?.lua;" .. package.path
local shared = require "executors_jobs"
local process = require "process"
local time = require "time"
local gil = require "gil"

local N = tonumber(arg and arg[1]) or 30
local RUNS = tonumber(arg and arg[2]) or 3
local CPUS = process.cpu_count()
local jobs = shared.jobs(N, 100, 0.05)

print(("futures executors, GIL policy %s, %d CPUs, median of %d runs (wall s, ratio to sequential)"):format(
  gil.policy(), CPUS, RUNS))
print(("%-20s %-26s %-26s"):format("executor", jobs[1].name, jobs[2].name))
local base = {}
for _, e in ipairs(shared.executors(CPUS, 100)) do
  local cells = {}
  for j, job in ipairs(jobs) do
    local seconds = shared.run(e, job, RUNS, time.monotonic)
    base[j] = base[j] or seconds
    cells[j] = ("%8.3f s  %5.2fx"):format(seconds, seconds / base[j])
  end
  print(("%-20s %-26s %-26s"):format(e.name, cells[1], cells[2]))
end
