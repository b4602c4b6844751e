-- Tasks of the gilrun worker in the interop tests (show.lua is prepended).
local cluster = require "cluster"

cluster.task("fib", function(n)
  local a, b = 0, 1
  for _ = 1, n do a, b = b, a + b end
  return a
end)

cluster.task("add", function(a, b) return a + b end)

cluster.task("echo", function(x) return x end)

-- What the arguments became in Lua, as one string (see show.lua).
cluster.task("describe", function(...) return show(table.pack(...)) end)

-- A value built in Lua, for the Lua -> JSON direction.
cluster.task("build", function()
  return {list = {1, 2, 3}, map = {x = "y"}, deep = {{a = 1}, {b = 2.5}}, flag = true, off = false, gone = nil}
end)

cluster.task("noop", function() end)

cluster.task("fail", function(message) error(message or "lua task failed") end)

-- A result JSON cannot carry: a function two tables deep.
cluster.task("unmappable", function() return {outer = {inner = print}} end)

-- Runs until its worker is killed (the redelivery test kills it mid-task).
cluster.task("hang", function() require("time").sleep(120) return "gilrun" end)
