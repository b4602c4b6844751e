local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
print("died", pcall(function() return app:send_task("die", {}):result(30) end))
print("after", app:send_task("add", {1, 1}):result(30))
