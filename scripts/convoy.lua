-- convoy.lua — the convoy effect (Dave Beazley, bpo-7946).
--
-- One thread does tiny blocking I/O round trips with an echo peer that never
-- needs the GIL (pipe.echo); 0, 1 or 2 CPU-bound threads spin beside it.
-- Every read and write releases the GIL. Under the default `interval` policy
-- the I/O thread must then wait for a CPU-bound holder to be asked to drop —
-- a whole switch interval — so its round trips collapse from tens of
-- thousands per second to about a hundred. Compare:
--
--   gilrun scripts/convoy.lua                 (interval, 5 ms)
--   gilrun --gil=priority scripts/convoy.lua  (I/O threads first)
--   gilrun --switch-interval=500us scripts/convoy.lua
--
-- usage: gilrun [flags] scripts/convoy.lua [seconds per run, default 1]
local thread = require "thread"
local time = require "time"
local gil = require "gil"
local pipe = require "pipe"

if gil.policy() == "isolated" then
  print("convoy.lua: under --gil=isolated threads share nothing (not even the stop flag);")
  print("the convoy effect needs one shared GIL. Try another policy.")
  return
end

local seconds = tonumber(arg and arg[1]) or 1.0
stop = false  -- a global every thread reads

local function spin()
  local n = 0
  while not stop do n = n + 1 end
  return n
end

local function io_loop()
  local ep = assert(pipe.echo())
  local clock = time.monotonic
  local latencies = {}
  while not stop do
    local t0 = clock()
    ep:write("x")
    ep:read(1)
    latencies[#latencies + 1] = clock() - t0
  end
  ep:close()
  table.sort(latencies)
  local function pct(q) return latencies[math.max(1, math.ceil(q * #latencies))] or 0 end
  return #latencies, pct(0.5), pct(0.99)
end

-- run() lets `cpu_threads` spinners (and maybe the I/O thread) run for
-- `seconds`; returns round trips/s, p50, p99 and spins/s per CPU thread.
local function run(cpu_threads, with_io)
  stop = false
  local cpus = {}
  for i = 1, cpu_threads do cpus[i] = thread.spawn{spin, name = "cpu-" .. i} end
  local io = with_io and thread.spawn{io_loop, name = "io"}
  time.sleep(seconds)
  stop = true
  local spins = 0
  for _, h in ipairs(cpus) do spins = spins + h:join() end
  local trips, p50, p99 = 0, 0, 0
  if io then trips, p50, p99 = io:join() end
  return trips / seconds, p50, p99, cpu_threads > 0 and spins / seconds / cpu_threads or 0
end

print(string.format("convoy effect: policy %s, switch interval %.3g ms, %.1f s per run",
                    gil.policy(), gil.switchinterval() * 1e3, seconds))
local _, _, _, solo_spin = run(1, false)
print(string.format("one CPU thread alone: %.3g loop iterations/s", solo_spin))
print()
print("CPU threads  round trips/s  vs alone  latency p50   latency p99   CPU thread speed")
local alone
for cpu_threads = 0, 2 do
  local rate, p50, p99, spin_rate = run(cpu_threads, true)
  alone = alone or rate
  print(string.format("%11d  %13.0f  %7.1f%%  %9.3f ms  %9.3f ms  %s", cpu_threads, rate,
                      100 * rate / alone, p50 * 1e3, p99 * 1e3,
                      cpu_threads > 0 and string.format("%.0f%% of alone", 100 * spin_rate / solo_spin)
                        or "-"))
end
