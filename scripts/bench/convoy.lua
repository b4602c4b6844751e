-- convoy.lua — the convoy effect (Beazley, bpo-7946) as a measurement.
--
-- The main thread does one-byte round trips with pipe.echo() (a peer that
-- never needs the GIL) for `seconds`, beside 0, 1 and 2 CPU-bound threads.
-- Every read that has to wait drops the GIL, and must win it back from a
-- CPU-bound holder. scripts/convoy.lua is the longer demo with latencies.
--
-- usage: gilrun [--gil=P] scripts/bench/convoy.lua [seconds=S]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local time = require "time"
local gil = require "gil"
local pipe = require "pipe"

local p = bench.params{seconds = 1.0}

-- round_trips() returns round trips/s with `cpu_threads` spinners beside.
local function round_trips(cpu_threads)
  local deadline = time.monotonic() + p.seconds
  local spinners = bench.spawn_spinners(cpu_threads, deadline)
  local ep = assert(pipe.echo())
  local n, t0, clock = 0, time.monotonic(), time.monotonic
  while clock() < deadline do
    ep:write("x")
    ep:read(1)
    n = n + 1
  end
  local rate = n / (clock() - t0)
  ep:close()
  bench.join_all(spinners)
  return rate
end

print(string.format("convoy: policy %s, switch interval %.3g ms, %.2f s per run", gil.policy(),
                    gil.switchinterval() * 1e3, p.seconds))
local alone = round_trips(0)
print(string.format("  alone          %9.0f round trips/s", alone))
bench.record("alone_per_s", alone)
for cpu = 1, 2 do
  local rate = round_trips(cpu)
  print(string.format("  %d CPU thread%s  %9.0f round trips/s  %5.1f%% of alone", cpu,
                      cpu == 1 and " " or "s", rate, 100 * rate / alone))
  bench.record("cpu" .. cpu .. "_per_s", rate)
  bench.record("cpu" .. cpu .. "_pct", 100 * rate / alone)
end
bench.emit()
