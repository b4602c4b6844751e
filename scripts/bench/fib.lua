-- fib.lua — recursive Fibonacci, the classic CPU-bound GIL workload.
-- Runs unchanged under stock lua5.4 and under gilrun (no gilrun modules).
--   lua5.4 fib.lua [N]      gilrun fib.lua [N]       (N defaults to 30)
-- Prints one machine-readable line: n=<N> fib=<fib(N)> cpu=<CPU seconds>
local n = tonumber(arg and arg[1] or ...) or 30

local function fib(k)
  if k < 2 then return k end
  return fib(k - 1) + fib(k - 2)
end

local t0 = os.clock()
local r = fib(n)
local cpu = os.clock() - t0
print(string.format("n=%d fib=%d cpu=%.4f", n, r, cpu))
