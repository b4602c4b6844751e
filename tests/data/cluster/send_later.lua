-- send_later.lua URL: sends one task, says so, then waits for its result.
local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
local f = app:send_task("fib", {10})
print("sent")
io.stdout:flush()
print("result", f:result(60))
