-- show(v): one canonical line for a Lua value, so a Python test can compare
-- what crossed the wire exactly: tables as {[k]=v,...} with keys sorted by
-- their own rendering, strings quoted, integers as 3, floats as 2.5 / 3.0.
-- Prepended to the interop tests' gilrun scripts and task files.
local function show(v)
  local t = type(v)
  if t == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = "[" .. show(k) .. "]=" .. show(x) end
    table.sort(parts)
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return '"' .. v .. '"'
  elseif t == "number" then
    return math.type(v) == "integer" and string.format("%d", v) or tostring(v)
  else
    return tostring(v)
  end
end
