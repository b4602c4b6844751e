-- An uncaught error on line 4, raised through a function (a real traceback).
local function explode()
  local reason = "boom"
  error(reason)
end
explode()
