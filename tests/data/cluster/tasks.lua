-- tasks.lua — the tasks the cluster tests' workers run (cluster_*_test.cpp).
local cluster = require "cluster"
local core = require "cluster.core"

local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
cluster.task("fib", fib)
cluster.task("add", function(a, b) return a + b end)
cluster.task("echo", function(...) return {...} end)
cluster.task("boom", function(what) error("boom: " .. tostring(what)) end)

-- redis() is a connection for tasks that coordinate with the test.
local function redis(url)
  local c = assert(core.connect(url))
  c:settimeout(60)
  return c
end

-- flaky fails until it has run `fails` times for `key`, then answers.
cluster.task("flaky", function(url, key, fails)
  local c = redis(url)
  local n = c:call("INCR", key)
  c:close()
  if n <= fails then error(("flaky: attempt %d fails"):format(n)) end
  return ("ok after %d"):format(n)
end)

-- hold counts its runs, says it started, and waits until the test
-- releases it (a Redis list), so a test can act while it runs.
cluster.task("hold", function(url, name)
  local c = redis(url)
  c:call("INCR", name .. ":runs")
  c:call("RPUSH", name .. ":started", "1")
  c:call("BLPOP", name .. ":release", "50")
  c:close()
  return "held " .. name
end)

-- spin never ends by itself.
cluster.task("spin", function(url, name)
  local c = redis(url)
  c:call("RPUSH", name .. ":started", "1")
  c:close()
  while true do end
end)

-- die takes its worker process down with it.
cluster.task("die", function() os.exit(3) end)
