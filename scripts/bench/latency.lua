-- latency.lua — ccbench's latency test: how long a ping from another process
-- waits for an answer while N CPU-bound threads run.
--
-- The pinger is a child process (process.spawn: its own interpreter and GIL,
-- so nothing here slows it down). It connects over TCP and, about every
-- `period` seconds (jittered 0.5x..1.5x), sends one byte and times the echo.
-- The main thread answers: it sleeps in receive() with the GIL released, so
-- each ping measures how fast a thread coming back from I/O gets the GIL
-- from CPU-bound holders — about a switch interval under `interval`, almost
-- nothing under `priority`.
--
-- usage: gilrun [--gil=P] scripts/bench/latency.lua [threads=N] [seconds=S] [period=S]
package.path = (arg and arg[0] or ""):gsub("[^/]*$", "") .. "?.lua;" .. package.path
local bench = require "benchlib"
local time = require "time"
local gil = require "gil"
local net = require "net"
local process = require "process"

local p = bench.params{threads = 2, seconds = 1.0, period = 0.01}

-- pinger() runs in the child: waits for "g", pings for `seconds`, returns
-- every wait in seconds.
local function pinger(port, period, seconds)
  local net, time = require "net", require "time"
  local conn = assert(net.connect("127.0.0.1", port))
  assert(conn:receive(1) == "g")
  local waits = {}
  local stop_at = time.monotonic() + seconds
  while time.monotonic() < stop_at do
    time.sleep(period * (0.5 + math.random()))
    local t0 = time.monotonic()
    assert(conn:send("p"))
    assert(conn:receive(1) == "p")
    waits[#waits + 1] = time.monotonic() - t0
  end
  conn:close()
  return waits
end

local server = assert(net.listen("127.0.0.1", 0))
local _, port = server:getsockname()
local child = process.spawn(pinger, port, p.period, p.seconds)
local conn = assert(server:accept())
server:close()
-- The spinners outlast the pinger a little, so every ping meets them.
local spinners = bench.spawn_spinners(p.threads, time.monotonic() + p.seconds + 0.05)
assert(conn:send("g"))
while true do
  local data = conn:receive(1)
  if not data then break end
  assert(conn:send(data))
end
conn:close()
bench.join_all(spinners)

local waits = child:join()
table.sort(waits)
local function pct(q) return waits[math.max(1, math.ceil(q * #waits))] * 1e6 end
local sum = 0
for _, w in ipairs(waits) do sum = sum + w end
local p50, p99, max, mean = pct(0.5), pct(0.99), waits[#waits] * 1e6, sum / #waits * 1e6
print(string.format("latency: policy %s, switch interval %.3g ms, %d CPU thread(s), %d pings",
                    gil.policy(), gil.switchinterval() * 1e3, p.threads, #waits))
print(string.format("  answer p50 %.0f us  p99 %.0f us  max %.0f us  mean %.0f us", p50, p99, max,
                    mean))
bench.record("p50_ms", p50 / 1e3)
bench.record("p99_ms", p99 / 1e3)
bench.record("max_ms", max / 1e3)
bench.emit()
