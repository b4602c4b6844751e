-- two_threads.lua — Beazley's experiment: fib(N) twice sequentially versus
-- fib(N) in each of two OS threads that share the one VM behind the GIL.
--   gilrun [--switch-interval=5ms] two_threads.lua [N [order]]   (N defaults to 32)
-- order "seq" (default) times the sequential run first, "threads" the
-- threaded one first (alternate them to cancel drifting machine load).
-- Prints one machine-readable line:
--   n=<N> seq=<s> threads=<s> ratio=<threads/seq> switches=<GIL holder changes>
--   unheld_ms=<ms during the threaded run in which nobody held the GIL>
-- ratio 1.0 means the GIL costs nothing beyond serialising; > 1 is overhead.
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local args = { ... }
local n = tonumber(args[1]) or 32
local order = args[2] or "seq"
assert(order == "seq" or order == "threads", "order must be 'seq' or 'threads'")

local function fib(k)
  if k < 2 then return k end
  return fib(k - 1) + fib(k - 2)
end

local expected = fib(20)  -- warm up
assert(expected == 6765)

local function sequential()
  local t0 = time.monotonic()
  local a, b = fib(n), fib(n)
  return time.monotonic() - t0, a, b
end

-- threaded() also measures how long nobody held the GIL while the two
-- threads ran (elapsed minus the GIL's hold time): the lock's own waste,
-- which unlike the ratio does not depend on how fast the CPU was meanwhile.
local function threaded()
  local s0 = gil.stats()
  local t0 = time.monotonic()
  local h1 = thread.spawn(fib, n)
  local h2 = thread.spawn(fib, n)
  local ra, rb = h1:join(), h2:join()
  local elapsed = time.monotonic() - t0
  local s1 = gil.stats()
  return elapsed, ra, rb, s1.switches - s0.switches, elapsed - (s1.hold_time - s0.hold_time)
end

local seq, a, b, threads, ra, rb, switches, unheld
if order == "seq" then
  seq, a, b = sequential()
  threads, ra, rb, switches, unheld = threaded()
else
  threads, ra, rb, switches, unheld = threaded()
  seq, a, b = sequential()
end
assert(ra == a and rb == b, "threads computed a different fib")

print(string.format("n=%d seq=%.4f threads=%.4f ratio=%.4f switches=%d unheld_ms=%.2f",
                    n, seq, threads, threads / seq, switches, math.max(unheld, 0) * 1e3))
