-- A thread fails and nobody joins it: reported at exit, status stays 0.
local thread = require "thread"
thread.spawn{function()
  error("worker exploded")
end, name = "worker"}
print("main done")
