-- race.lua — the GIL keeps the VM consistent, not YOUR data.
--
--   gilrun scripts/race.lua [iterations]
--
-- Four threads each add 1 to a shared counter many times. The increment is
-- split into a read and a write with a function call between them, so a GIL
-- switch can land in the middle: another thread reads the same old value,
-- and one of the two updates is lost. With sync.lock around the read-modify-
-- write the total is exact.
local thread = require "thread"
local sync = require "sync"
local gil = require "gil"

local THREADS = 4
local ITERATIONS = tonumber(arg and arg[1]) or 200000

-- A tiny switch interval makes switches (and so the race) frequent.
local previous = gil.switchinterval(1e-5)

local counter = 0

local function compute(v)  -- a call between the read and the write
  return v + 1
end

local function increment_unsafely()
  for _ = 1, ITERATIONS do
    local value = counter        -- read
    counter = compute(value)     -- write: a switch may have happened between
  end
end

local lock = sync.lock()
local function increment_with_lock()
  for _ = 1, ITERATIONS do
    lock:acquire()
    local value = counter
    counter = compute(value)
    lock:release()
  end
end

local function run(body)
  counter = 0
  local s0 = gil.stats().switches
  local handles = {}
  for i = 1, THREADS do handles[i] = thread.spawn{body, name = "adder-" .. i} end
  for _, h in ipairs(handles) do h:join() end
  return counter, gil.stats().switches - s0
end

local expected = THREADS * ITERATIONS
print(string.format("%d threads x %d increments = %d expected (switch interval %.0f us)",
                    THREADS, ITERATIONS, expected, gil.switchinterval() * 1e6))

local unsafe, unsafe_switches = run(increment_unsafely)
print(string.format("without a lock: %9d  (%d lost, %d GIL switches)",
                    unsafe, expected - unsafe, unsafe_switches))

local safe, safe_switches = run(increment_with_lock)
print(string.format("with sync.lock: %9d  (%d lost, %d GIL switches)",
                    safe, expected - safe, safe_switches))

gil.switchinterval(previous)
print()
print("The GIL makes each Lua instruction safe for the VM, but `counter = counter + 1`")
print("is several instructions: a thread can be switched out between the read and")
print("the write. The GIL does not protect your invariants; use sync.lock for that.")
assert(safe == expected, "the locked total must be exact")
