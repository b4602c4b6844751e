-- green_queue.lua — items per second through a queue between two green
-- threads (a producer and a consumer on one hub).
-- usage: gilrun scripts/bench/green_queue.lua [items=1000000] [maxsize=0]
local green, queue, time = require "green", require "queue", require "time"
local items = tonumber(arg[1]) or 1000000
local q = queue.new(tonumber(arg[2]) or 0)
local producer = green.spawn(function() for i = 1, items do q:put(i) end end)
local consumer = green.spawn(function()
  local sum = 0
  for _ = 1, items do sum = sum + q:get() end
  return sum
end)
local t0 = time.monotonic()
green.joinall({producer, consumer})
local elapsed = time.monotonic() - t0
assert(consumer:join() == items * (items + 1) // 2)
print(string.format("green queue: %d items in %.3f s = %.2fM items/s",
                    items, elapsed, items / elapsed / 1e6))
