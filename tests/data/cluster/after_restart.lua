local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
print("after restart", app:send_task("add", {20, 22}):result(30))
