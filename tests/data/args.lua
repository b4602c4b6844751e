-- Prints the script's arguments: the `arg` table and the chunk's varargs.
print("arg0=" .. tostring(arg[0]))
print("argc=" .. #arg)
for i = 1, #arg do print("arg" .. i .. "=" .. arg[i]) end
print("dots=" .. table.concat({...}, ","))
