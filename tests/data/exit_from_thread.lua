-- os.exit called by a non-main thread while main waits in join().
local thread = require "thread"
local h = thread.spawn{function()
  print("thread exiting")
  os.exit(5)
end, name = "exiter"}
h:join()
print("not reached")
