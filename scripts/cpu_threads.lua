-- cpu_threads.lua — the classic GIL experiment: fib(N) twice, first one
-- after the other, then in two threads at once.
--
--   gilrun scripts/cpu_threads.lua [N]
--   gilrun --switch-interval=1ms --stats scripts/cpu_threads.lua
--
-- With a GIL only one thread runs Lua at a time, so two CPU-bound threads
-- are no faster than doing the work sequentially (CPython's 2009 figure:
-- 5.04 s sequential, 7.46 s in two threads). Each forced switch costs a
-- little, on top.
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local N = tonumber(arg and arg[1]) or 33

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

-- timed() returns fn's wall time, the process CPU time it used, and the GIL
-- switches and forced drops that happened meanwhile.
local function timed(fn)
  local s0 = gil.stats()
  local t0, c0 = time.monotonic(), time.cpu()
  fn()
  local wall, cpu = time.monotonic() - t0, time.cpu() - c0
  local s1 = gil.stats()
  return {wall = wall, cpu = cpu, switches = s1.switches - s0.switches,
          forced = s1.forced_drops - s0.forced_drops}
end

print(string.format("fib(%d) twice; GIL switch interval %.1f ms", N,
                    gil.switchinterval() * 1e3))

fib(N - 2)  -- warm up (page faults, CPU clock) so the first timing is fair

local seq = timed(function()
  fib(N)
  fib(N)
end)

local par = timed(function()
  local a = thread.spawn{fib, N, name = "fib-1"}
  local b = thread.spawn{fib, N, name = "fib-2"}
  a:join()
  b:join()
end)

local function row(label, r)
  print(string.format("%-12s %7.3f s %7.3f s %10d %14d", label, r.wall, r.cpu, r.switches,
                      r.forced))
end
print(string.format("%-12s %9s %9s %10s %14s", "", "wall", "cpu", "switches", "forced drops"))
row("sequential", seq)
row("2 threads", par)
print(string.format("threads / sequential = %.2fx", par.wall / seq.wall))
print()
print("One GIL: the two threads take turns instead of running in parallel, so")
print("the ratio stays near 1.0x (or worse) however many cores you have, and the")
print("CPU time is no more than the wall time. Real parallelism needs processes.")
