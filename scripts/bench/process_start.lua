-- process_start.lua — one round of bench/process_start.py for gilrun:
-- process start cost and the 2-process speed-up on a short job.
--   gilrun scripts/bench/process_start.lua METHOD [spawns=20] [job_s=0.1]
-- METHOD is a start method (forkserver | spawn); "default" leaves the
-- module's default (for a gilrun that has no start methods). Prints:
--   cold_ms=<first spawn -> joined result: includes starting the fork server>
--   start_ms=<median of the other spawns -> joined result>
--   seq_s=<the job twice in this process>  par_s=<the job in 2 processes>
--   ratio=<par_s / seq_s>
local process = require "process"
local time = require "time"

local method, spawns, job_s = arg[1] or "default", tonumber(arg[2]) or 20, tonumber(arg[3]) or 0.1
if method ~= "default" then process.set_start_method(method) end

local function job(n)
  local x = 0
  for i = 1, n do x = x + i % 7 end
  return x
end

local function start_ms()
  local t0 = time.monotonic()
  local p = process.spawn(function(x) return x end, 1)
  assert(p:join() == 1)
  return (time.monotonic() - t0) * 1e3
end

-- Calibrate the job to ~job_s seconds here.
local n = 200000
while true do
  local t0 = time.monotonic()
  job(n)
  local dt = time.monotonic() - t0
  if dt > 0.02 then n = math.floor(n * job_s / dt) break end
  n = n * 4
end

local cold = start_ms()
local ms = {}
for i = 1, spawns do ms[i] = start_ms() end
table.sort(ms)

local expected = job(n)
local t0 = time.monotonic()
assert(job(n) == expected and job(n) == expected)
local seq = time.monotonic() - t0
t0 = time.monotonic()
local a, b = process.spawn(job, n), process.spawn(job, n)
assert(a:join() == expected and b:join() == expected)
local par = time.monotonic() - t0
print(string.format("cold_ms=%.3f start_ms=%.3f seq_s=%.4f par_s=%.4f ratio=%.4f", cold,
                    ms[(spawns + 1) // 2], seq, par, par / seq))
