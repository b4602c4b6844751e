local cluster = require "cluster"
local futures = require "futures"
local app <close> = cluster.connect{broker = arg[1]}
print("fib", app:send_task("fib", {20}):result(20))
print("add", app:send_task("add", {2, 3}):result(20))
print("float", app:send_task("add", {2.5, 0.5}):result(20))
local t = app:send_task("echo", {"x", {1, 2}, {k = "v"}, true}):result(20)
print("echo", t[1], t[2][2], t[3].k, t[4])
-- a nil among the arguments travels as null when the count is given
local packed = app:send_task("echo", table.pack(1, nil, 3)):result(20)
print("packed", packed[1], packed[2], packed[3])
-- futures: done callbacks and as_completed take these futures too
local f = app:send_task("add", {40, 2})
local called = false
f:add_done_callback(function() called = true end)
local fs = {f, app:send_task("fib", {10})}
local n = 0
for _ in futures.as_completed(fs, 20) do n = n + 1 end
print("as_completed", n, called, f:done(), f:result())
print("id", type(f.task_id), #f.task_id)
-- what cannot be JSON is an error naming its path
print("bad", pcall(app.send_task, app, "add", {1, {conn = io.stdout}}))
