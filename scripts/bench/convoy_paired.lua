-- convoy_paired.lua — the `priority` acceptance check: an I/O thread's echo
-- round trips beside one CPU-bound thread, with each figure compared to a
-- reference measured right next to it.
--
-- The CPU thread's own speed swings by a third between runs on a shared VM,
-- so a ratio against an "alone" run seconds earlier (scripts/convoy.lua) is
-- mostly noise. Here every round measures three adjacent slices — the CPU
-- thread alone, the I/O thread alone, both together — and the medians of
-- the per-round ratios are reported.
--
-- It also prints what the pair costs the CPU thread: forced drops (each an
-- I/O thread's preemption) per second, and the CPU thread's loss per round
-- trip, (1 - its ratio) / round trips per second, in microseconds — the
-- figure that bounds the frontier (README, "Measured").
--
-- usage: gilrun --gil=priority scripts/bench/convoy_paired.lua [slice seconds, 0.5] [rounds, 9]
local thread, time, pipe, gil = require "thread", require "time", require "pipe", require "gil"
local slice, rounds = tonumber(arg[1]) or 0.5, tonumber(arg[2]) or 9
stop = false
local function spin() local n = 0 while not stop do n = n + 1 end return n end
local function io_loop()
  local ep = assert(pipe.echo()) local n = 0
  while not stop do ep:write("x") ep:read(1) n = n + 1 end
  ep:close() return n
end
local function run(cpu, io)
  stop = false
  local forced = gil.stats().forced_drops
  local c = cpu and thread.spawn(spin)
  local i = io and thread.spawn(io_loop)
  time.sleep(slice) stop = true
  return c and c:join() / slice or 0, i and i:join() / slice or 0, (gil.stats().forced_drops - forced) / slice
end
local cpu_ratio, io_ratio, preempts, lost = {}, {}, {}, {}
for r = 1, rounds do
  local solo = run(true, false)
  local _, alone = run(false, true)
  local both_cpu, both_io, forced = run(true, true)
  cpu_ratio[r], io_ratio[r], preempts[r] = both_cpu / solo, both_io / alone, forced
  lost[r] = (1 - both_cpu / solo) / both_io * 1e6
end
for _, t in ipairs{cpu_ratio, io_ratio, preempts, lost} do table.sort(t) end
local m = (rounds + 1) // 2
print(string.format("CPU %.0f%% [%.0f..%.0f]  I/O %.0f%% [%.0f..%.0f]  preemptions/s %.0f  CPU lost per round trip %.1f us",
                    cpu_ratio[m]*100, cpu_ratio[1]*100, cpu_ratio[rounds]*100, io_ratio[m]*100, io_ratio[1]*100,
                    io_ratio[rounds]*100, preempts[m], lost[m]))
