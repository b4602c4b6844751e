-- memory.lua — resident memory per OS thread, per green thread, per process.
--
-- N threads (or green threads) are started and parked in a sleep; the growth
-- of this process's RSS (/proc/self/status) divided by N is the cost of one.
-- A process is a whole interpreter: each of `procs` children reports its own
-- RSS. Green threads are all asleep after one green.yield(). For OS threads
-- the measuring sleep is a window, not synchronisation (under --gil=isolated
-- they can share no semaphore): they sleep `hold` seconds, and RSS is read
-- `hold / 2` after they were spawned.
-- Green threads and processes need the `green` and `process` modules.
--
-- usage: gilrun [--gil=P] scripts/bench/memory.lua [threads=N] [green=N] [procs=N] [hold=S]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local p = bench.params{threads = 200, green = 10000, procs = 2, hold = 0.6}

local function sleeper(seconds) require("time").sleep(seconds) end

-- per_item() spawns n sleepers with spawn_one, waits `settle`, and returns
-- the RSS growth per sleeper in KiB (or nil, why); join_one ends each.
local function per_item(n, spawn_one, join_one, settle)
  collectgarbage()
  local before = bench.rss_kib()
  local handles = {}
  local ok, err = pcall(function()
    for i = 1, n do handles[i] = spawn_one() end
    settle()
  end)
  local after = bench.rss_kib()
  for _, h in ipairs(handles) do join_one(h) end
  if not ok then return nil, tostring(err) end
  return (after - before) / n
end

print(string.format("memory: policy %s", gil.policy()))
local kib = per_item(p.threads, function() return thread.spawn(sleeper, p.hold) end,
                     function(h) h:join() end, function() time.sleep(p.hold / 2) end)
print(string.format("  per OS thread     %7.1f KiB  (%d threads)", kib, p.threads))
bench.record("thread_kib", kib)

local green, why = bench.optional("green")
if green then
  local k, err = per_item(p.green, function() return green.spawn(green.sleep, p.hold) end,
                          function(g) g:join() end,
                          function() green.yield() end)  -- one pass: each runs until it sleeps
  kib, why = k, err
end
if kib and green then
  print(string.format("  per green thread  %7.1f KiB  (%d green threads)", kib, p.green))
  bench.record("green_kib", kib)
else
  print("  per green thread  n/a (" .. why .. ")")
  bench.na("green_kib", why)
end

local process
process, why = bench.optional("process")
if process then
  local ok, err = pcall(function()
    local function own_rss()
      local f = assert(io.open("/proc/self/status"))
      local text = f:read("a")
      f:close()
      return tonumber(text:match("VmRSS:%s*(%d+)"))
    end
    local children, total = {}, 0
    for i = 1, p.procs do children[i] = process.spawn(own_rss) end
    for _, c in ipairs(children) do total = total + c:join() end
    kib = total / p.procs
  end)
  if not ok then process, why = nil, "process.spawn failed: " .. tostring(err) end
end
if process then
  print(string.format("  per process       %7.1f KiB  (RSS of each of %d children)", kib, p.procs))
  bench.record("process_kib", kib)
else
  print("  per process       n/a (" .. why .. ")")
  bench.na("process_kib", why)
end
bench.emit()
