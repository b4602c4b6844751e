-- cpu2.lua — the talk's experiment: fib(n) twice sequentially, in 2 threads,
-- and in 2 processes (each its own interpreter and GIL).
--
-- With one shared GIL the threads take about as long as sequential (ratio
-- ~1.0, worse when switching costs); --gil=isolated threads and processes use
-- both cores (ratio ~0.5 on 2 cores). Processes need the `process` module;
-- without it that column says n/a.
--
-- usage: gilrun [--gil=P] scripts/bench/cpu2.lua [n=N]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local p = bench.params{n = 30}
local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end

local function timed(fn)
  local t0 = time.monotonic()
  fn()
  return time.monotonic() - t0
end

fib(p.n - 4)  -- warm up
local expected = fib(p.n)
local seq = timed(function() assert(fib(p.n) == expected and fib(p.n) == expected) end)
local threads = timed(function()
  local a, b = thread.spawn(fib, p.n), thread.spawn(fib, p.n)
  assert(a:join() == expected and b:join() == expected)
end)
print(string.format("cpu2: policy %s, fib(%d) twice", gil.policy(), p.n))
print(string.format("  sequential   %.3f s", seq))
print(string.format("  2 threads    %.3f s  %.2fx sequential", threads, threads / seq))
bench.record("seq_s", seq)
bench.record("threads_s", threads)
bench.record("threads_ratio", threads / seq)

local process, why = bench.optional("process")
if process then
  local ok, err = pcall(function()
    local procs = timed(function()
      local a, b = process.spawn(fib, p.n), process.spawn(fib, p.n)
      assert(a:join() == expected and b:join() == expected)
    end)
    print(string.format("  2 processes  %.3f s  %.2fx sequential", procs, procs / seq))
    bench.record("procs_s", procs)
    bench.record("procs_ratio", procs / seq)
  end)
  if not ok then why = "process.spawn failed: " .. tostring(err) end
end
if why then
  print("  2 processes  n/a (" .. why .. ")")
  bench.na("procs_s", why)
  bench.na("procs_ratio", why)
end
bench.emit()
