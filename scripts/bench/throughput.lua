-- throughput.lua — ccbench's throughput test: N CPU-bound threads vs one.
--
-- One thread runs fib(15) calls for `seconds`; then `threads` threads do the
-- same for `seconds` together. With one shared GIL the N threads together do
-- about what one did (100%, or less when switching costs); threads that each
-- own their VM (--gil=isolated) scale with the cores.
--
-- usage: gilrun [--gil=P] scripts/bench/throughput.lua [threads=N] [seconds=S]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local time = require "time"
local gil = require "gil"

local p = bench.params{threads = 2, seconds = 1.0}

bench.spin_until(time.monotonic() + 0.05)  -- warm up
local single = bench.spin_until(time.monotonic() + p.seconds) / p.seconds
local t0 = time.monotonic()
local handles = bench.spawn_spinners(p.threads, t0 + p.seconds)
local total = bench.join_all(handles) / (time.monotonic() - t0)

print(string.format("throughput: policy %s, %d thread(s), %.2f s each", gil.policy(), p.threads,
                    p.seconds))
print(string.format("  1 thread      %10.0f fib(15)/s", single))
print(string.format("  %d thread(s)   %10.0f fib(15)/s   %.0f%% of one thread", p.threads, total,
                    100 * total / single))
bench.record("single_per_s", single)
bench.record("per_s", total)
bench.record("pct_of_single", 100 * total / single)
bench.emit()
