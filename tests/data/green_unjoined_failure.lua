-- A green thread fails and nobody joins it: its traceback is printed once.
local green = require "green"
green.spawn(function()
  error("green exploded")
end)
print("main done")
