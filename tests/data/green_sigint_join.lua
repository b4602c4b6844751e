-- Ctrl-C target: the main chunk joins a green thread that sleeps, so the
-- main thread waits inside its hub (uv_run, GIL released).
local green = require "green"
local g = green.spawn(function() green.sleep(1000) end)
green.yield()
print("ready")
io.stdout:flush()
g:join()
