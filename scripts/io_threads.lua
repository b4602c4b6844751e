-- io_threads.lua — N threads each sleep 0.2 s. time.sleep releases the GIL,
-- so the sleeps overlap: the total wall time stays near 0.2 s, not N x 0.2 s.
--
--   gilrun scripts/io_threads.lua [N ...]     (default: 1 10 100)
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local SLEEP = 0.2
local sizes = {}
for i = 1, #arg do sizes[#sizes + 1] = math.tointeger(tonumber(arg[i])) end
if #sizes == 0 then sizes = {1, 10, 100} end

local function sleeper() time.sleep(SLEEP) end

print(string.format("each thread sleeps %.0f ms", SLEEP * 1e3))
print(string.format("%8s %10s %16s %10s", "threads", "wall", "if sequential", "switches"))
for _, n in ipairs(sizes) do
  local s0 = gil.stats().switches
  local t0 = time.monotonic()
  local handles = {}
  for i = 1, n do handles[i] = thread.spawn(sleeper) end
  for _, h in ipairs(handles) do h:join() end
  local wall = time.monotonic() - t0
  print(string.format("%8d %8.0f ms %13.0f ms %10d", n, wall * 1e3, n * SLEEP * 1e3,
                      gil.stats().switches - s0))
end
print()
print("Blocking calls (sleep, locks, queues, join) release the GIL, so waiting")
print("threads overlap: threads are fine for I/O-bound work even with a GIL.")
