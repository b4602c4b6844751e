-- queue.lua — items/s through a queue: between two OS threads (`queue`),
-- between two green threads (`queue`, which yields in a green thread), and
-- between two processes (`process.queue`).
--
-- A producer puts `items` integers, then an end marker; the consumer counts
-- them. Under --gil=isolated threads share nothing, so a queue can't be
-- passed to one: that cell says why. scripts/bench/queue_throughput.lua measures
-- the bounded variants too.
--
-- usage: gilrun [--gil=P] scripts/bench/queue.lua [items=N] [maxsize=M]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local thread = require "thread"
local queue = require "queue"
local time = require "time"
local gil = require "gil"

local p = bench.params{items = 200000, maxsize = 0}

local producer, consumer = bench.produce, bench.consume

-- rate() runs one producer/consumer pair started by `start` and returns
-- items/s, or nil and why it could not run.
local function rate(start)
  local t0 = time.monotonic()
  local ok, got = pcall(start)
  if not ok and gil.policy() == "isolated" then
    return nil, "isolated threads share no queue (" .. tostring(got) .. ")"
  end
  if not ok then return nil, tostring(got) end
  assert(got == p.items, "items lost")
  return p.items / (time.monotonic() - t0)
end

-- cell() records one variant's figure and prints its line.
local function cell(key, label, value, why)
  if value then bench.record(key, value) else bench.na(key, why) end
  print(string.format("  %-16s %s", label,
                      value and string.format("%10.0f items/s", value) or "n/a (" .. why .. ")"))
end

print(string.format("queue: policy %s, %d items, maxsize %d", gil.policy(), p.items, p.maxsize))
cell("threads_per_s", "OS threads", rate(function()
  local q = queue.new(p.maxsize)
  local h = thread.spawn(producer, q, p.items)
  local got = consumer(q)
  h:join()
  return got
end))

local green, why = bench.optional("green")
if green then
  cell("green_per_s", "green threads", rate(function()
    local q = queue.new(p.maxsize)
    local prod, cons = green.spawn(producer, q, p.items), green.spawn(consumer, q)
    prod:join()
    return cons:join()
  end))
else
  cell("green_per_s", "green threads", nil, why)
end

local process
process, why = bench.optional("process")
if process then
  cell("process_per_s", "processes", rate(function()
    local q = process.queue(p.maxsize)
    local child = process.spawn(producer, q, p.items)
    local got = consumer(q)
    child:join()
    return got
  end))
else
  cell("process_per_s", "processes", nil, why)
end
bench.emit()
