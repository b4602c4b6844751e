-- Tasks of the gilrun workers in tests/cluster/netns.sh.
local cluster = require "cluster"

-- {i, the worker's NETNS_WORKER}: which host ran task i.
cluster.task("where", function(i) return {i, os.getenv("NETNS_WORKER")} end)
