-- keep_success.lua URL: a task's stored SUCCESS survives a later outcome
-- for the same id (a redelivered run that failed), as in Celery.
local broker = require "cluster.broker"
local backend = require "cluster.backend"
local link = broker.connect(arg[1])
print("first", backend.store(link, "t1", "SUCCESS", "42"))
print("second", backend.store(link, "t1", "FAILURE", backend.exception("LuaError", "boom")))
print("other", backend.store(link, "t2", "FAILURE", backend.exception("LuaError", "boom")))
print("retried", backend.store(link, "t2", "SUCCESS", "7"))
for _, id in ipairs{"t1", "t2"} do
  local ok, v = backend.outcome(link:call("GET", backend.key(id)))
  print(id, ok, ok and v[1] or v)
end
link:close()
