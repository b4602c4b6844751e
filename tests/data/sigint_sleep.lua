-- Ctrl-C target: the main thread sleeps (with the GIL released).
local time = require "time"
print("ready")
io.stdout:flush()
time.sleep(1000)
