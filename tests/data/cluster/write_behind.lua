-- write_behind.lua URL: a link's later() view queues commands; they reach
-- Redis with the link's next command, before it, and their errors are
-- reported, not lost.
local broker = require "cluster.broker"
local logged = {}
local link = broker.connect(arg[1], {log = function(text) logged[#logged + 1] = text end})
local other = broker.connect(arg[1])
other:call("HSET", "unacked", "tag-1", "held")
local later = link:later()
later:call("SET", "wb", "1")
later:ack("tag-1")
print("queued", other:call("GET", "wb"), other:call("HGET", "unacked", "tag-1"))  -- nothing sent yet
print("sent", link:call("GET", "wb"))                  -- the SET went first
print("acked", other:call("HGET", "unacked", "tag-1"))
later:call("LPUSH", "wb", "x")                         -- WRONGTYPE
print("ping", link:call("PING"), #logged, logged[1])
later:call("SET", "wb", "2")
link:flush()
print("flushed", other:call("GET", "wb"))
later:call("SET", "wb", "3")
link:close()                                           -- close sends it too
print("closed", other:call("GET", "wb"))
other:close()
