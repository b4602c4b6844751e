-- green_switch.lua — two green threads passing control back and forth with
-- green.yield(); prints ns per switch (one green thread to the other, which
-- is two fiber switches: into the hub and out of it).
-- usage: gilrun scripts/bench/green_switch.lua [rounds=1000000]
local green, time = require "green", require "time"
local rounds = tonumber(arg[1]) or 1000000
local function bounce() for _ = 1, rounds do green.yield() end end
local a, b = green.spawn(bounce), green.spawn(bounce)
local t0 = time.monotonic()
green.joinall({a, b})
local elapsed = time.monotonic() - t0
print(string.format("green switch: %d switches in %.3f s = %.1f ns per switch",
                    2 * rounds, elapsed, elapsed / (2 * rounds) * 1e9))
