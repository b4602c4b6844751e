-- A green thread busy in Lua while the main thread waits for it in joinall:
-- Ctrl-C must interrupt the main thread's wait.
local green = require "green"
local busy = green.spawn(function()
  print("ready")
  io.stdout:flush()
  while true do end
end)
green.joinall({busy})
print("joinall returned")
