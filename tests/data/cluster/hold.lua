-- hold.lua URL NAME [TIMEOUT]: runs the hold task and prints its outcome.
local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
print("sent")
io.stdout:flush()
print("result", pcall(function() return app:send_task("hold", {arg[1], arg[2]}):result(tonumber(arg[3]) or 40) end))
