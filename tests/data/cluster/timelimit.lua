local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
print("limited", pcall(function() return app:send_task("spin", {arg[1], "s"}, {time_limit = 1}):result(30) end))
print("after", app:send_task("fib", {10}):result(30))
