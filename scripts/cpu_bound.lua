-- cpu_bound.lua — the talks' CPU-bound experiment across all three answers:
-- fib(N) twice, one after the other; in 2 threads (one GIL: no faster); in
-- 2 processes (one GIL each: up to 2x faster on 2 cores); in a pool of 2.
--
--   gilrun scripts/cpu_bound.lua [N=30] [runs=5]
--
-- Each variant runs `runs` times (rounds interleave the variants); the
-- median wall time is printed with its ratio to the sequential median. Process times include starting the
-- children (spawn -> result); the pool is created outside the timing, as a
-- long-lived pool would be. Target on 2 cores: processes <= 0.55x even for
-- fib(30) (~0.2 s each).
local thread = require "thread"
local process = require "process"
local time = require "time"

local N = tonumber(arg and arg[1]) or 30
local RUNS = tonumber(arg and arg[2]) or 5

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local function median(xs)
  table.sort(xs)
  local n = #xs
  return n % 2 == 1 and xs[(n + 1) // 2] or (xs[n // 2] + xs[n // 2 + 1]) / 2
end

local expected = fib(N)  -- warm up, and the answer every variant must give

local variants = {
  {"sequential", function()
    assert(fib(N) == expected and fib(N) == expected)
  end},
  {"2 threads", function()
    local a, b = thread.spawn(fib, N), thread.spawn(fib, N)
    assert(a:join() == expected and b:join() == expected)
  end},
  {"2 processes", function()
    local a, b = process.spawn(fib, N), process.spawn(fib, N)
    assert(a:join() == expected and b:join() == expected)
  end},
}
local pool = process.pool(2)
pool:map(fib, {1, 1})  -- the workers are up
variants[#variants + 1] = {"pool of 2", function()
  local r = pool:map(fib, {N, N})
  assert(r[1] == expected and r[2] == expected)
end}

print(string.format("fib(%d) twice, median of %d rounds, %d CPUs", N, RUNS, process.cpu_count()))
-- Rounds interleave the variants, so that a change in the machine's load
-- (it is shared) hits every variant alike.
local walls = {}
for _ = 1, RUNS do
  for i, v in ipairs(variants) do
    local t0 = time.monotonic()
    v[2]()
    walls[i] = walls[i] or {}
    table.insert(walls[i], time.monotonic() - t0)
  end
end
local base = median(walls[1])
for i, v in ipairs(variants) do
  local wall = median(walls[i])
  print(string.format("  %-12s %7.3f s  %5.2fx sequential", v[1], wall, wall / base))
end
pool:close()
pool:join()
