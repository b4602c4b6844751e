-- hello.lua — a first look at gilrun: two OS threads share one Lua VM.
--
--   gilrun scripts/hello.lua
--
-- Each thread does a little CPU work (it needs the GIL for that) and then
-- sleeps (time.sleep releases the GIL, so the other thread can run).
local thread = require "thread"
local time = require "time"
local gil = require "gil"

print("Hello from gilrun! One Lua 5.4 VM, real OS threads, one GIL.")
print(string.format("GIL policy: %s, switch interval: %.1f ms",
                    gil.policy(), gil.switchinterval() * 1e3))
print()

local start = time.monotonic()
local function since_start()
  return string.format("%6.1f ms", (time.monotonic() - start) * 1e3)
end

local function worker(name)
  local sum = 0
  for i = 1, 3000000 do sum = sum + i % 3 end  -- CPU work: holds the GIL
  print(since_start() .. "  " .. name .. " computed " .. sum .. ", now sleeping")
  time.sleep(0.1)                                -- blocking: GIL released
  for i = 1, 3000000 do sum = sum + i % 5 end
  print(since_start() .. "  " .. name .. " is done")
  return sum
end

local a = thread.spawn{worker, "thread A", name = "A"}
local b = thread.spawn{worker, "thread B", name = "B"}
a:join()
b:join()

local s = gil.stats()
print()
print(string.format("The GIL changed hands %d times (%d forced by a drop request)",
                    s.switches, s.forced_drops))
print(string.format("over %.0f ms; the threads waited %.1f ms for it in total.",
                    s.elapsed * 1e3, s.wait_time * 1e3))
print()
print([[What happened: both threads share one interpreter, so only the one
holding the GIL runs Lua code. A thread that computes keeps the GIL until
another one asks for it (after the switch interval, 5 ms by default); a
thread that sleeps, waits on a lock or a queue, or joins another releases
it right away. So threads make waiting overlap, not computing.

Try:  gilrun --stats scripts/hello.lua        (per-thread GIL table)
      gilrun scripts/cpu_threads.lua          (two CPU threads vs one)
      gilrun scripts/io_threads.lua           (100 sleepers in 0.2 s)
      gilrun scripts/race.lua                 (the GIL does not protect you)]])
