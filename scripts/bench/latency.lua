-- latency.lua — ccbench's latency test: how long a ping waits for an answer
-- while N CPU-bound threads run.
--
-- The pinger is pipe.pinger(): a plain C++ thread that never takes the GIL
-- (to the GIL it is as foreign as another process). About every `period`
-- seconds it writes one byte and times the answer. The main thread answers:
-- it sleeps in read() with the GIL released, so each ping measures how fast
-- a thread coming back from I/O gets the GIL from CPU-bound holders — about
-- a switch interval under `interval`, almost nothing under `priority`.
--
-- usage: gilrun [--gil=P] scripts/bench/latency.lua [threads=N] [seconds=S] [period=S]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local time = require "time"
local gil = require "gil"
local pipe = require "pipe"

local p = bench.params{threads = 2, seconds = 1.0, period = 0.01}

-- The spinners outlast the pinger a little, so every ping meets them.
local spinners = bench.spawn_spinners(p.threads, time.monotonic() + p.seconds + 0.05)
local ep = assert(pipe.pinger(p.period, p.seconds))
local report = ""
while true do
  local data = ep:read(256)
  if not data then break end
  if data == "p" then assert(ep:write("p")) else report = report .. data end
end
ep:close()
bench.join_all(spinners)

local p50, p99, max, mean, n = report:match("^r(%S+) (%S+) (%S+) (%S+) (%S+)$")
assert(p50, "no report from the pinger: " .. report)
print(string.format("latency: policy %s, switch interval %.3g ms, %d CPU thread(s), %s pings",
                    gil.policy(), gil.switchinterval() * 1e3, p.threads, n))
print(string.format("  answer p50 %.0f us  p99 %.0f us  max %.0f us  mean %.0f us", p50, p99, max,
                    mean))
bench.record("p50_ms", p50 / 1e3)
bench.record("p99_ms", p99 / 1e3)
bench.record("max_ms", max / 1e3)
bench.emit()
