-- green_sleepers.lua — N green threads, each sleeping 200 ms: spawn + sleep
-- + join wall time, and what each costs while all are alive: RSS (VmRSS) and
-- kernel page tables (VmPTE) from /proc/self/status, read once every one of
-- them sleeps, less the same figures read before the first spawn.
-- usage: gilrun scripts/bench/green_sleepers.lua [N=100000] [seconds=0.2]
-- prints one line: "green_sleepers n=N wall=S rss_kib=K pte_kib=K kib=K"
-- (bench/green_sleepers.sh runs it at 100K and 1M and prints the ratios).
local green, time = require "green", require "time"
local n = math.tointeger(tonumber(arg[1] or 100000))
local seconds = tonumber(arg[2] or 0.2)
assert(n and n > 0, "usage: green_sleepers.lua [N] [seconds]")

local function status_kib()
  local rss, pte
  for line in io.lines("/proc/self/status") do
    rss = rss or tonumber(line:match("^VmRSS:%s+(%d+) kB"))
    pte = pte or tonumber(line:match("^VmPTE:%s+(%d+) kB"))
  end
  return rss, pte
end

collectgarbage()
local rss0, pte0 = status_kib()
local t0 = time.monotonic()
local handles = {}
for i = 1, n do handles[i] = green.spawn(time.sleep, seconds) end
green.yield()  -- one pass: each green thread runs until it sleeps
local rss1, pte1 = status_kib()
for i = 1, n do handles[i]:join() end
local wall = time.monotonic() - t0
local rss, pte = (rss1 - rss0) / n, (pte1 - pte0) / n
print(string.format("green_sleepers n=%d wall=%.3f rss_kib=%.2f pte_kib=%.2f kib=%.2f",
                    n, wall, rss, pte, rss + pte))
