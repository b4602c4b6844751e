-- futures_overhead.lua — what one submit + result of an empty task costs
-- through each futures executor, beside CPython's ThreadPoolExecutor and
-- ProcessPoolExecutor measured by the same loop on the same machine (run
-- with python3 through process.run, when python3 is there).
--
-- Each round is `ex:submit(empty):result()`: a full round trip (hand the
-- task over, a worker runs it, the waiter is woken), nothing overlapped.
-- usage: gilrun scripts/bench/futures_overhead.lua [rounds=20000] [repeats=5]
--   (process executors run rounds/10; each figure is the median of repeats)
local futures, process, time = require "futures", require "process", require "time"
local rounds = tonumber(arg and arg[1]) or 20000
local repeats = tonumber(arg and arg[2]) or 5

local function empty() end

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

-- per_round() is the median over `repeats` of microseconds per round trip.
local function per_round(ex, n)
  ex:submit(empty):result()  -- workers started, caches warm
  local samples = {}
  for r = 1, repeats do
    local t0 = time.monotonic()
    for _ = 1, n do ex:submit(empty):result() end
    samples[r] = (time.monotonic() - t0) / n * 1e6
  end
  return median(samples)
end

local PYTHON = [[
import sys, time
from concurrent.futures import ThreadPoolExecutor, ProcessPoolExecutor
def empty(): pass
def per_round(ex, n, repeats):
    ex.submit(empty).result()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n): ex.submit(empty).result()
        samples.append((time.perf_counter() - t0) / n * 1e6)
    samples.sort()
    return samples[(len(samples) - 1) // 2]
if __name__ == "__main__":
    rounds, repeats = int(sys.argv[1]), int(sys.argv[2])
    with ThreadPoolExecutor(4) as ex: print("thread", per_round(ex, rounds, repeats))
    with ProcessPoolExecutor(2) as ex: print("process", per_round(ex, max(1, rounds // 10), repeats))
]]

local function cpython()
  local ok, r = pcall(process.run, {"python3", "-c", PYTHON, tostring(rounds), tostring(repeats)})
  if not ok or not r or r.code ~= 0 then return nil, ok and r and r.stderr or tostring(r) end
  local out = {}
  for kind, us in r.stdout:gmatch("(%a+) ([%d.e+-]+)") do out[kind] = tonumber(us) end
  out.version = process.run({"python3", "--version"}).stdout:gsub("%s+$", "")
  return out
end

local rows = {}
do
  local ex <close> = futures.thread_pool(4)
  rows[#rows + 1] = {"futures.thread_pool(4)", per_round(ex, rounds), "thread"}
end
do
  local ex <close> = futures.green_pool(4)
  rows[#rows + 1] = {"futures.green_pool(4)", per_round(ex, rounds), "thread"}
end
do
  local ex <close> = futures.process_pool(2)
  rows[#rows + 1] = {"futures.process_pool(2)", per_round(ex, math.max(1, rounds // 10)), "process"}
end

local py, why = cpython()
print(("submit + result of an empty task, median of %d runs (%d rounds; processes %d)"):format(
  repeats, rounds, math.max(1, rounds // 10)))
print(("%-26s %12s   %s"):format("executor", "us/round", py and ("vs " .. py.version) or ""))
for _, row in ipairs(rows) do
  local versus = ""
  if py and py[row[3]] then
    local name = row[3] == "thread" and "ThreadPoolExecutor(4)" or "ProcessPoolExecutor(2)"
    versus = ("%s %.1f us: %.1fx cheaper"):format(name, py[row[3]], py[row[3]] / row[2])
  end
  print(("%-26s %12.2f   %s"):format(row[1], row[2], versus))
end
if not py then print("(CPython not measured: " .. tostring(why) .. ")") end
