-- queue_throughput.lua — items/s through a `queue` between two OS threads
-- (the Queue.Queue experiment: CPython's queue.Queue moved 97K items/s on
-- this kind of machine).
--   gilrun queue_throughput.lua [N] [maxsize...]
-- N items (default 1000000) go from a producer thread to a consumer thread,
-- once through an unbounded queue (maxsize 0) and once per bounded maxsize
-- given (default: 1000 and 1). One machine-readable line per variant:
--   queue maxsize=<m> items=<N> seconds=<s> items_per_s=<rate> switches=<n>
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local thread = require "thread"
local queue = require "queue"
local time = require "time"
local gil = require "gil"

local args = { ... }
local n = tonumber(args[1]) or 1000000
local sizes = { 0 }
if #args >= 2 then
  for i = 2, #args do sizes[#sizes + 1] = assert(tonumber(args[i]), "maxsize must be a number") end
else
  sizes[2], sizes[3] = 1000, 1
end

for _, maxsize in ipairs(sizes) do
  local count = n
  if maxsize > 0 and maxsize < 100 then count = math.min(n, 20000) end  -- a hand-off per item: keep it short
  local q = queue.new(maxsize)
  local s0 = gil.stats().switches
  local t0 = time.monotonic()
  local c = thread.spawn(bench.consume, q)
  local p = thread.spawn(bench.produce, q, count)
  p:join()
  local got, sum = c:join()
  local seconds = time.monotonic() - t0
  local s1 = gil.stats().switches
  assert(got == count and sum == count * (count + 1) // 2, "items lost or duplicated")
  print(string.format("queue maxsize=%d items=%d seconds=%.4f items_per_s=%.0f switches=%d",
                      maxsize, count, seconds, count / seconds, s1 - s0))
end
