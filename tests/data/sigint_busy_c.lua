-- Ctrl-C target: the main thread spins calling C functions.
print("ready")
io.stdout:flush()
while true do math.abs(1) math.abs(1) math.abs(1) math.abs(1) end
