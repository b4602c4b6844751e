-- Two named CPU threads, joined: material for --stats.
local thread = require "thread"
local function work(n)
  local x = 0
  for i = 1, n do x = x + i % 7 end
  return x
end
local a = thread.spawn{work, 2000000, name = "alpha"}
local b = thread.spawn{work, 2000000, name = "beta"}
print("results " .. a:join() .. " " .. b:join())
