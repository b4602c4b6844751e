-- sleepers.lua — N threads vs N green threads, each sleeping 200 ms.
--
-- Spawn, sleep, join: the wall time shows what starting and parking a thread
-- costs (an OS thread, or under --gil=isolated a whole VM) against a green
-- thread (a fiber on the hub's event loop). The talk's figures: 10K threads
-- 3.6 s, 100K greenlets 8.8 s (CPython 3.11 / gevent, this kind of machine).
-- Green threads need the `green` module; without it those cells say n/a.
--
-- usage: gilrun [--gil=P] scripts/bench/sleepers.lua [threads=100,1000] [green=100,1000]
--                                                  [sleep=0.2]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local thread = require "thread"
local time = require "time"
local gil = require "gil"

local p = bench.params{threads = "100,1000", green = "100,1000", sleep = 0.2}

local function sleeper(seconds) require("time").sleep(seconds) end

-- wall() runs spawn_all(n) and join_all(handles); returns seconds or nil, why.
local function wall(n, spawn_one, join_one)
  local handles = {}
  local t0 = time.monotonic()
  local ok, err = pcall(function()
    for i = 1, n do handles[i] = spawn_one() end
  end)
  for _, h in ipairs(handles) do join_one(h) end
  if not ok then return nil, tostring(err) end
  return time.monotonic() - t0
end

print(string.format("sleepers: policy %s, each sleeps %.0f ms", gil.policy(), p.sleep * 1e3))
for _, n in ipairs(bench.list(p.threads)) do
  local s, why = wall(n, function() return thread.spawn(sleeper, p.sleep) end,
                      function(h) h:join() end)
  local key = "threads_" .. n .. "_s"
  if s then bench.record(key, s) else bench.na(key, why) end
  print(string.format("  %7d threads        %s", n, s and string.format("%.3f s", s) or why))
end

local green, why = bench.optional("green")
for _, n in ipairs(bench.list(p.green)) do
  local s, err
  if green then
    s, err = wall(n, function() return green.spawn(green.sleep, p.sleep) end,
                  function(g) g:join() end)
  end
  local key = "green_" .. n .. "_s"
  if s then bench.record(key, s) else bench.na(key, err or why) end
  print(string.format("  %7d green threads  %s", n, s and string.format("%.3f s", s) or
                      "n/a (" .. (err or why) .. ")"))
end
bench.emit()
