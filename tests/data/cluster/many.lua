-- many.lua URL N: N tasks at once; every result must come back once.
local cluster = require "cluster"
local futures = require "futures"
local app <close> = cluster.connect{broker = arg[1]}
local n = tonumber(arg[2])
local fs, want = {}, {}
for i = 1, n do fs[i] = app:send_task("add", {i, 1000}) end
local seen, bad = {}, 0
for f in futures.as_completed(fs, 50) do
  assert(not seen[f], "a future came twice")
  seen[f] = true
end
for i = 1, n do if fs[i]:result() ~= i + 1000 then bad = bad + 1 end end
local count = 0
for _ in pairs(seen) do count = count + 1 end
print("done", count, "bad", bad)
