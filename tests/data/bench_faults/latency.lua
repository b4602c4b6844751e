-- latency.lua (fault fixture): tells the test its pid through the FIFO named
-- by $GILRUN_BENCH_TEST_FIFO, then runs until it is killed (the test sends
-- Ctrl-C to `gilrun bench`, which must kill and reap this child).
local stat = assert(io.open("/proc/self/stat")):read("l")
local fifo = assert(io.open(assert(os.getenv("GILRUN_BENCH_TEST_FIFO")), "w"))
fifo:write(stat:match("^(%d+)"), "\n")
fifo:close()
while true do end
