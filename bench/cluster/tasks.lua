-- The gilrun worker's tasks in bench/cluster/run.py (map sends its own function).
local cluster = require "cluster"

cluster.task("noop", function() end)
