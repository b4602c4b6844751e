-- process_orphan.lua — a child that would wait forever: the CLI tests kill
-- (or Ctrl-C) this parent and check the child does not survive it.
local process = require "process"
local q = process.queue()
local p = process.spawn(function(q) return q:get() end, q)
io.write("child=", p.pid, "\n")
io.stdout:flush()
p:join()
