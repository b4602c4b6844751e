local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
local url = arg[1]
print("retried", app:send_task("flaky", {url, "k1", 2}, {retries = 3, retry_countdown = 0.2}):result(20))
print("gave up", pcall(function()
  return app:send_task("flaky", {url, "k2", 5}, {retries = 1, retry_countdown = 0.1}):result(20)
end))
