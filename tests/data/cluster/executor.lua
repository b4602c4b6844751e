local cluster = require "cluster"
local app <close> = cluster.connect{broker = arg[1]}
local ex <close> = app:executor()
local base = 100
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print("submit", ex:submit(function(a, b) return a + b + base, "second" end, 1, 2):result(20))
print("map", table.concat(ex:map(fib, {1, 2, 3, 10, 20}), ","))
print("table", ex:submit(function() return {nested = {list = {1, 2, 3}}} end):result(20).nested.list[3])
print("error", pcall(ex.map, ex, function(x) if x == 3 then error("no threes") end return x end, {1, 2, 3}))
local out = io.stdout
print("upvalue", pcall(ex.submit, ex, function() return out end))
