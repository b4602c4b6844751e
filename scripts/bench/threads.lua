-- threads.lua — gilrun's side of the OS-thread experiments that run.sh
-- measures beside raw pthreads (pthread_twin.cpp, the floor; issue 16 goal 1).
--
--   gilrun scripts/bench/threads.lua sleepers N SECONDS
--       N threads each sleep SECONDS: spawn all, join all (the talks' sleepers)
--   gilrun scripts/bench/threads.lua alive N SECONDS
--       N threads each start, then sleep SECONDS: the time until all N are alive
--       (spawn) and until all ended
--
-- Prints the same line as pthread_twin: mode=<m> n=<N> spawn=<s> wall=<s>
-- (in sleepers mode "spawn" is when the spawn loop ended).
local thread = require "thread"
local time = require "time"
local sync = require "sync"

local mode, n, seconds = arg[1], tonumber(arg[2]), tonumber(arg[3])
assert((mode == "sleepers" or mode == "alive") and n and seconds,
       "usage: threads.lua sleepers|alive N SECONDS")

local started = sync.semaphore(0)
local function sleeper()
  started:release()
  time.sleep(seconds)
end

local handles = {}
local t0 = time.monotonic()
if mode == "sleepers" then
  for i = 1, n do handles[i] = thread.spawn(time.sleep, seconds) end
else
  for i = 1, n do handles[i] = thread.spawn(sleeper) end
  for _ = 1, n do started:acquire() end
end
local spawn = time.monotonic() - t0
for i = 1, n do handles[i]:join() end
print(string.format("mode=%s n=%d spawn=%.4f wall=%.4f", mode, n, spawn, time.monotonic() - t0))
