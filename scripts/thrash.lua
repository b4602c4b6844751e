-- thrash.lua — two CPU-bound threads fighting over the GIL.
--
-- The same work (fib) runs twice sequentially, then in two threads, and the
-- GIL counters of the threaded run are printed. Run it under each policy:
--
--   gilrun --gil=ticks scripts/thrash.lua     CPython 2: release and re-take every
--                                             100 instructions, no hand-off —
--                                             a storm of futile wakeups on 2 cores
--   gilrun --gil=interval scripts/thrash.lua  CPython 3: a forced switch every 5 ms
--   gilrun --gil=fifo scripts/thrash.lua      Ruby: direct hand-off, fair
--   gilrun --gil=isolated scripts/thrash.lua  each thread its own VM: parallel
--
-- usage: gilrun [flags] scripts/thrash.lua [n, default 30]
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local n = tonumber(arg and arg[1]) or 30
local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end

local t0 = time.monotonic()
fib(n); fib(n)
local sequential = time.monotonic() - t0

local before = gil.stats()
t0 = time.monotonic()
local a = thread.spawn{fib, n, name = "fib-a"}
local b = thread.spawn{fib, n, name = "fib-b"}
a:join(); b:join()
local threaded = time.monotonic() - t0
local after = gil.stats()

local function delta(field) return (after[field] or 0) - (before[field] or 0) end
print(string.format("policy %s: fib(%d) twice", gil.policy(), n))
print(string.format("  sequential  %.3f s", sequential))
print(string.format("  2 threads   %.3f s   (%.2fx sequential)", threaded, threaded / sequential))
print(string.format("  switches %d, forced drops %d, drop requests %d, futile wakeups %d",
                    delta("switches"), delta("forced_drops"), delta("drop_requests"),
                    delta("futile_wakeups")))
print(string.format("  %.0f switches/s during the threaded run", delta("switches") / threaded))
