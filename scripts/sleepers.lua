-- sleepers.lua — the talks' sleeper experiment: N green threads against N
-- OS threads, each sleeping 200 ms. Spawn + sleep + join wall time, and the
-- memory each costs while all of them are alive (RSS from /proc/self/statm
-- and page tables from /proc/self/status, read once all of them sleep).
--
-- usage: gilrun scripts/sleepers.lua [green|thread|both] [N,N,...] [seconds]
--   defaults: both, green 100,1000,10000,100000 / threads 100,1000,10000, 0.2
local green = require "green"
local thread = require "thread"
local time = require "time"
local sync = require "sync"

local mode = arg[1] or "both"
local sizes = {}
for n in (arg[2] or ""):gmatch("%d+") do sizes[#sizes + 1] = tonumber(n) end
local seconds = tonumber(arg[3]) or 0.2

local function rss_bytes()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("n", "n")
  f:close()
  return resident * 4096
end

-- page_table_bytes() is the kernel's page tables for this process (VmPTE):
-- memory each sleeper costs besides its RSS (a fiber's stack slot, or a
-- thread's stack, needs its own page-table page).
local function page_table_bytes()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmPTE:%s+(%d+) kB")
    if kb then return tonumber(kb) * 1024 end
  end
  return 0
end

-- run() spawns n sleepers with `spawn`, waits until all are asleep with
-- `asleep`, reads the RSS, then joins them all.
local function run(n, spawn, asleep)
  collectgarbage()
  local before, pte_before = rss_bytes(), page_table_bytes()
  local t0 = time.monotonic()
  local handles = {}
  for i = 1, n do handles[i] = spawn() end
  asleep(handles)
  local rss, pte = rss_bytes() - before, page_table_bytes() - pte_before
  for i = 1, n do handles[i]:join() end
  return time.monotonic() - t0, rss / n, pte / n
end

local function green_run(n)
  return run(n, function() return green.spawn(time.sleep, seconds) end,
             function() green.yield() end)  -- one pass: each runs until it sleeps
end

local function thread_run(n)
  local started = sync.semaphore(0)
  local function sleeper()
    started:release()
    time.sleep(seconds)
  end
  return run(n, function() return thread.spawn(sleeper) end,
             function(handles) for _ = 1, #handles do started:acquire() end end)
end

local function report(kind, list, runner)
  print(string.format("%-7s %9s %10s %14s %19s", kind, "N", "wall (s)", "RSS/each (KiB)",
                      "page tables (KiB)"))
  for _, n in ipairs(list) do
    local ok, wall, per, pte = pcall(runner, n)
    if ok then
      print(string.format("%-7s %9d %10.3f %14.2f %19.2f", "", n, wall, per / 1024, pte / 1024))
    else
      print(string.format("%-7s %9d  failed: %s", "", n, tostring(wall)))
    end
  end
end

print(string.format("sleepers: each sleeps %.0f ms", seconds * 1e3))
if mode == "green" or mode == "both" then
  report("green", #sizes > 0 and sizes or {100, 1000, 10000, 100000}, green_run)
end
if mode == "thread" or mode == "both" then
  report("thread", #sizes > 0 and sizes or {100, 1000, 10000}, thread_run)
end
