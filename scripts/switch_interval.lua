-- switch_interval.lua — what the switch interval trades.
--
-- Two CPU-bound threads run the same work at intervals from 50 us to 50 ms.
-- A short interval means many forced switches (each a signal, a hook and two
-- context switches); a long one means a waiting thread waits long. Prints
-- wall time and switches per second for each.
--
-- usage: gilrun scripts/switch_interval.lua [n, default 27]
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local n = tonumber(arg and arg[1]) or 27
local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end

local intervals = {50e-6, 100e-6, 500e-6, 1e-3, 5e-3, 10e-3, 50e-3}
local original = gil.switchinterval()
print(string.format("two threads, fib(%d) each, policy %s", n, gil.policy()))
print("  interval      wall     switches/s   forced drops")
for _, interval in ipairs(intervals) do
  gil.switchinterval(interval)
  local before = gil.stats()
  local t0 = time.monotonic()
  local a, b = thread.spawn(fib, n), thread.spawn(fib, n)
  a:join(); b:join()
  local wall = time.monotonic() - t0
  local after = gil.stats()
  print(string.format("%8.3g ms  %7.3f s  %11.0f  %13d", interval * 1e3, wall,
                      (after.switches - before.switches) / wall,
                      after.forced_drops - before.forced_drops))
end
gil.switchinterval(original)
