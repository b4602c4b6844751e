-- executors.lua — `gilrun bench executors`: scripts/executors.lua's two jobs
-- (fib(n) x 4; `sleeps` sleeps of `sleep` s) through sequential, thread_pool,
-- green_pool and process_pool, with the wall time of each and its ratio to
-- sequential. Threads help I/O, not CPU; processes help CPU; green threads
-- help I/O. (A CPU job through a 100-thread or green pool says nothing new,
-- so the pools for I/O are `io_workers` wide, those for CPU `workers`.)
--
-- usage: gilrun [--gil=P] scripts/bench/executors.lua [n=N] [sleeps=K] [sleep=S] [runs=R]
--        [workers=W (0: one per CPU)] [io_workers=M]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local time = require "time"
local gil = require "gil"

local process = bench.optional("process")
local p = bench.params{n = 30, sleeps = 100, sleep = 0.05, runs = 1, workers = 0, io_workers = 100}
if p.workers == 0 then p.workers = process and process.cpu_count() or 2 end  -- 0: one per CPU
local shared = require "executors_jobs"

print(("executors: policy %s, %d workers for CPU, %d for I/O (wall s, ratio to sequential)"):format(
  gil.policy(), p.workers, p.io_workers))
local jobs = shared.jobs(p.n, p.sleeps, p.sleep)
for _, job in ipairs(jobs) do
  local base
  for _, e in ipairs(shared.executors(p.workers, p.io_workers)) do
    -- CPU work goes to the CPU-sized pools; I/O to the I/O-sized ones.
    local wanted = e.key == "seq" or e.key == "procs" or
                   (job.key == "cpu" and e.key == "threads") or
                   (job.key == "io" and (e.key == "threads_io" or e.key == "green"))
    if wanted then
      local key = job.key .. "_" .. (e.key == "threads_io" and "threads" or e.key)
      if e.key == "procs" and not process then
        bench.na(key .. "_s", "module process not available")
        bench.na(key .. "_ratio", "module process not available")
      else
        local seconds = shared.run(e, job, p.runs, time.monotonic)
        base = base or seconds
        print(("  %-24s %-20s %8.3f s  %5.2fx"):format(job.name, e.name, seconds, seconds / base))
        bench.record(key .. "_s", seconds)
        if e.key ~= "seq" then bench.record(key .. "_ratio", seconds / base) end
      end
    end
  end
end
bench.emit()
