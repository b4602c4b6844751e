-- echo.lua — an echo server in green threads (one per connection) and
-- N clients making R requests each, run as green threads or as OS threads:
-- the same client code either way, because net's calls block the way the
-- calling context blocks (switch to the hub, or drop the GIL and poll).
--
-- usage: gilrun scripts/echo.lua [clients=100] [requests=100] [green|thread|both]
local green, thread, net, time = require "green", require "thread", require "net", require "time"

local clients = tonumber(arg[1]) or 100
local requests = tonumber(arg[2]) or 100
local mode = arg[3] or "both"

local server = assert(net.listen("127.0.0.1", 0))
local host, port = server:getsockname()

local function serve(c)
  while true do
    local line = c:receive("*l")
    if not line then break end
    c:send(line .. "\n")
  end
  c:close()
end

local acceptor = green.spawn(function()
  while true do
    local c = server:accept()
    if not c then return end
    green.spawn(serve, c)
  end
end)

local function client(i)
  local c = assert(net.connect(host, port))
  for j = 1, requests do
    local msg = "request " .. i .. "." .. j
    c:send(msg .. "\n")
    assert(c:receive("*l") == msg)
  end
  c:close()
end

local function run(spawn)
  local t0 = time.monotonic()
  local handles = {}
  for i = 1, clients do handles[i] = spawn(client, i) end
  for i = 1, clients do handles[i]:join() end
  return time.monotonic() - t0
end

print(string.format("echo: %d clients x %d requests, server in green threads on %s:%d",
                    clients, requests, host, port))
print(string.format("%-14s %10s %12s", "clients are", "wall (s)", "requests/s"))
local total = clients * requests
if mode == "green" or mode == "both" then
  local s = run(green.spawn)
  print(string.format("%-14s %10.3f %12.0f", "green threads", s, total / s))
end
if mode == "thread" or mode == "both" then
  local s = run(thread.spawn)
  print(string.format("%-14s %10.3f %12.0f", "OS threads", s, total / s))
end
acceptor:kill()
server:close()
