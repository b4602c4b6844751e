-- culprit.lua — who makes the others wait? Three threads share the GIL:
--
--   culprit  calls a C function that keeps the GIL for 50 ms at a time
--            (gil.hold: a C extension that forgets to release it)
--   worker   pure Lua work: the eval breaker preempts it every 5 ms
--   io       sleeps 1 ms at a time (time.sleep releases the GIL)
--
-- Run it with --stats: "GIL held while others waited" names the culprit's
-- line; "waited for the GIL at" shows where the others queued behind it.
-- --gil-profile=gil.folded writes the same as collapsed stacks, for
-- flamegraph.pl or speedscope.
--
-- usage: gilrun --stats scripts/culprit.lua [seconds, default 1]
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local seconds = tonumber(arg and arg[1]) or 1
local deadline = time.monotonic() + seconds

local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end

local function culprit()
  while time.monotonic() < deadline do
    gil.hold(0.05)  -- the culprit: 50 ms in C with the GIL held
    fib(15)
  end
end

local function worker()
  local n = 0
  while time.monotonic() < deadline do
    fib(20)
    n = n + 1
  end
  return n
end

local function io()
  local n = 0
  while time.monotonic() < deadline do
    time.sleep(0.001)
    n = n + 1
  end
  return n
end

local threads = {
  thread.spawn{culprit, name = "culprit"},
  thread.spawn{worker, name = "worker"},
  thread.spawn{io, name = "io"},
}
for _, t in ipairs(threads) do t:join() end

local s = gil.stats()
local top = s.holders[1]
if top then
  local total = 0
  for _, h in ipairs(s.holders) do total = total + h.total end
  print(string.format("the GIL was held longest while others waited at %s (%s): %.0f%% of %.0f ms",
                      top.where, top["function"], 100 * top.total / total, total * 1e3))
end
