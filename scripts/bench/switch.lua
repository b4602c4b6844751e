-- switch.lua — what the switch interval buys: forced-switch rate and
-- hand-off cost with two CPU-bound threads.
--
-- Two threads spin for `seconds`. From gil.stats(): switches per second,
-- forced drops per second, and the GIL's idle time per switch (elapsed
-- minus hold time, divided by switches): how long a hand-off leaves the lock
-- unheld. Under --gil=isolated the spinners own their VMs and GILs, so the
-- main GIL's counters say little. Run it at several --switch-interval values
-- (gilrun bench does); scripts/switch_interval.lua sweeps inside one process.
--
-- usage: gilrun [--gil=P] [--switch-interval=D] scripts/bench/switch.lua [seconds=S]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local time = require "time"
local gil = require "gil"

local p = bench.params{seconds = 1.0}

local before = gil.stats()
local t0 = time.monotonic()
local work = bench.join_all(bench.spawn_spinners(2, t0 + p.seconds))
local elapsed = time.monotonic() - t0
local after = gil.stats()
local switches = after.switches - before.switches
local forced = after.forced_drops - before.forced_drops
local unheld = math.max(0, elapsed - (after.hold_time - before.hold_time))

print(string.format("switch: policy %s, switch interval %.3g ms, 2 CPU threads, %.2f s",
                    gil.policy(), gil.switchinterval() * 1e3, elapsed))
print(string.format("  %.0f switches/s, %.0f forced drops/s, %.1f us unheld per switch, "
                    .. "%.0f fib(15)/s", switches / elapsed, forced / elapsed,
                    switches > 0 and unheld / switches * 1e6 or 0, work / elapsed))
bench.record("switches_per_s", switches / elapsed)
bench.record("forced_per_s", forced / elapsed)
if gil.policy() == "isolated" then
  -- Each spinner has its own VM and GIL; gil.stats() sees only the main one.
  bench.na("handoff_us", "isolated: each thread has its own GIL, nothing is handed off")
elseif switches > 0 then
  bench.record("handoff_us", unheld / switches * 1e6)
else
  bench.na("handoff_us", "no switches")
end
bench.record("work_per_s", work / elapsed)
bench.emit()
