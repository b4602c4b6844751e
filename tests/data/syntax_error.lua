-- A syntax error on line 3.
local ok = true
if then
