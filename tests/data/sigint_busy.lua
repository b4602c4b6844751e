-- Ctrl-C target: the main thread spins in Lua code.
print("ready")
io.stdout:flush()
while true do end
