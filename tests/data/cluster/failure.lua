local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
local f = app:send_task("boom", {"kaput"})
print("id", f.task_id)
local ok, err = pcall(f.result, f, 20)
print("ok", ok)
print("err", err)
print("missing", pcall(function() return app:send_task("no.such.task", {}):result(20) end))
