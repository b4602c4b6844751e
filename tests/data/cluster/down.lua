local cluster = require "cluster"
print("connect", pcall(cluster.connect, {broker = arg[1]}))
print("url", pcall(cluster.connect, {broker = "http://localhost/"}))
