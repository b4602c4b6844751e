-- A green thread computes for 300 ms without yielding (--green-block-warn).
local green, time = require "green", require "time"
local function spin(seconds)
  local t0 = time.monotonic()
  while time.monotonic() - t0 < seconds do end
end
local g = green.spawn(function() spin(0.3) end)
g:join()
print("done")
