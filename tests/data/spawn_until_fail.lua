-- Spawns threads (each blocked on an event) until spawning fails, prints the
-- error, then releases and joins them all.
local thread = require "thread"
local sync = require "sync"
local go = sync.event()
local handles = {}
local err
for _ = 1, 1000000 do
  local ok, h = pcall(thread.spawn, function() go:wait(); return 1 end)
  if not ok then err = h; break end
  handles[#handles + 1] = h
end
print("spawned " .. #handles)
print("error: " .. tostring(err))
go:set()
local joined = 0
for _, h in ipairs(handles) do joined = joined + h:join() end
print("joined " .. joined)
