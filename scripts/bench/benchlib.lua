-- benchlib.lua — what every scripts/bench/*.lua experiment shares.
--
-- An experiment script is an ordinary gilrun program: run it alone and it
-- prints a readable table; `gilrun bench` runs it in a fresh child process
-- per configuration and reads the one machine-readable line it also prints:
--
--   @bench key=number key=n/a ...         the measurements, in order
--   @bench-na key reason...               why a figure is n/a
--
-- Scripts load this file from their own directory:
--   package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local M = {}

-- params() reads key=value arguments over `defaults` (numbers stay numbers).
function M.params(defaults)
  local p = {}
  for k, v in pairs(defaults) do p[k] = v end
  for _, a in ipairs(arg or {}) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if not k or p[k] == nil then
      error(string.format("bad argument '%s' (known: key=value for %s)", a,
                          table.concat(M.sorted_keys(defaults), ", ")), 0)
    end
    p[k] = tonumber(v) or v
  end
  return p
end

function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- list() splits "100,1000" into {100, 1000}.
function M.list(text)
  local out = {}
  for item in tostring(text):gmatch("[^,]+") do out[#out + 1] = assert(tonumber(item), text) end
  return out
end

-- optional() is require() that returns nil and a reason instead of raising.
function M.optional(name)
  local ok, module = pcall(require, name)
  if ok then return module end
  return nil, "module " .. name .. " not available"
end

local figures, missing = {}, {}

-- record() keeps a measurement for the @bench line; na() marks one as not
-- available, with the reason.
function M.record(key, value) figures[#figures + 1] = string.format("%s=%.6g", key, value) end
function M.na(key, reason)
  figures[#figures + 1] = key .. "=n/a"
  missing[#missing + 1] = "@bench-na " .. key .. " " .. tostring(reason):gsub("%s+", " ")
end

-- emit() prints the machine-readable lines; call it once, at the end.
function M.emit()
  print("@bench " .. table.concat(figures, " "))
  for _, line in ipairs(missing) do print(line) end
end

-- rss_kib() is this process's resident set size in KiB (Linux).
function M.rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)"))
end

-- Thread bodies take everything they need as arguments and require their
-- modules inside, so they also run under --gil=isolated, where a spawned
-- function is copied into a fresh VM and upvalues holding C functions can't go.

-- spin_until() runs fib(15) calls until `deadline` (time.monotonic) and
-- returns how many it did: the CPU-bound unit of work of every experiment.
function M.spin_until(deadline)
  local clock = require("time").monotonic
  local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end
  local n = 0
  while clock() < deadline do
    fib(15)
    n = n + 1
  end
  return n
end

-- spawn_spinners() starts `count` threads running spin_until(deadline).
function M.spawn_spinners(count, deadline)
  local thread = require "thread"
  local handles = {}
  for i = 1, count do handles[i] = thread.spawn{M.spin_until, deadline, name = "cpu-" .. i} end
  return handles
end

-- The queue experiments' two ends: produce() puts 1..count, then the end
-- marker -1; consume() takes items until the marker and returns how many
-- came and their sum (a check of both catches items lost or duplicated).
-- Neither has an upvalue, so either also runs as a child process's body.
function M.produce(q, count)
  for i = 1, count do q:put(i) end
  q:put(-1)
  return count
end

function M.consume(q)
  local got, sum = 0, 0
  while true do
    local v = q:get()
    if v == -1 then return got, sum end
    got, sum = got + 1, sum + v
  end
end

-- join_all() joins every handle and returns the sum of their first results.
function M.join_all(handles)
  local total = 0
  for _, h in ipairs(handles) do total = total + (h:join() or 0) end
  return total
end

return M
