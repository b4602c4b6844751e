-- wait_result.lua URL ID: the outcome of a task someone else sent.
local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
print("result", pcall(function() return app:async_result(arg[2]):result(30) end))
