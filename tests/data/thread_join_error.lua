-- join() re-raises the thread's error. With arg[1] == "uncaught" nobody
-- catches it; otherwise it is caught with pcall and printed.
local thread = require "thread"
local h = thread.spawn{function()
  error("worker exploded")
end, name = "worker"}
if arg[1] == "uncaught" then
  h:join()
else
  local ok, err = pcall(h.join, h)
  print("ok=" .. tostring(ok))
  print("caught: " .. tostring(err))
end
