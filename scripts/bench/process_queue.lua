-- process_queue.lua — process module costs: spawn latency (spawn -> first
-- result) and process.queue items/s between two processes (goal >= 200K;
-- bench/process_queue.py is CPython's multiprocessing.Queue twin).
--   gilrun scripts/bench/process_queue.lua [items=200000] [spawns=20]
-- Prints one machine-readable line per figure:
--   process spawn_ms_median=<ms> spawn_ms_p90=<ms> spawns=<n>
--   process_queue items=<N> seconds=<s> items_per_s=<rate>
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local process = require "process"
local time = require "time"

local args = { ... }
local items = tonumber(args[1]) or 200000
local spawns = tonumber(args[2]) or 20

local ms = {}
for i = 1, spawns do
  local t0 = time.monotonic()
  local p = process.spawn(function(x) return x end, i)
  assert(p:join() == i)
  ms[i] = (time.monotonic() - t0) * 1e3
end
table.sort(ms)
print(string.format("process spawn_ms_median=%.2f spawn_ms_p90=%.2f spawns=%d",
                    ms[(spawns + 1) // 2], ms[math.max(1, math.floor(spawns * 0.9))], spawns))

local q, done = process.queue(), process.queue()
local consumer = process.spawn(function(consume, q, done)
  local n, sum = consume(q)
  done:put(n)
  return sum
end, bench.consume, q, done)
q:put(0)  -- let the consumer start before the clock does
local t0 = time.monotonic()
bench.produce(q, items)
local received = done:get()
local seconds = time.monotonic() - t0
assert(received == items + 1 and consumer:join() == items * (items + 1) // 2)
print(string.format("process_queue items=%d seconds=%.3f items_per_s=%.0f", items, seconds,
                    items / seconds))
