-- memory.lua (fault fixture): an uncaught Lua error.
error("boom from the fault fixture")
