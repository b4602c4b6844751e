// lua_fault_test.cpp — faults: what gilrun does when descriptors or memory
// run out, or waits pile up on one descriptor. The resource limits apply to
// a gilrun child started through the shell (`ulimit`), so this test process
// keeps its own.
#include <cstdio>
#include <fstream>
#include <string>

#include "child_run.h"
#include "lua_fixture.h"
#include "sanitizers.h"
#include "temp_dir.h"


namespace gilrun_test {
namespace {

using Faults = LuaTest;

// run_limited() runs `script` with gilrun under the shell's `ulimit_flags`
// and returns what it printed (stdout and stderr) and its exit status.
struct Limited {
  std::string output;
  int status = -1;
};
Limited run_limited(const std::string& ulimit_flags, const std::string& script) {
  const gilrun_test::TempDir dir("gilrun-fault");
  const std::string path = dir.file("script.lua");
  std::ofstream(path) << script;
  const std::string command =
      "ulimit " + ulimit_flags + " && exec " GILRUN_BINARY " " + path + " 2>&1";
  const ChildResult child = run_shell(command);
  Limited r;
  r.output = child.out;
  r.status = child.term_signal != 0 ? 128 + child.term_signal : child.exit_status;
  return r;
}

// hub.cpp ignored uv_loop_init's result: the spawn "worked", and the process
// aborted at exit in uv_close (exit 134).
TEST(FaultsUnderLimits, NoDescriptorsLeftForTheHubIsALuaErrorAtTheSpawn) {
  const Limited r = run_limited("-n 64", R"(
    local green = require "green"
    local files = {}
    while true do
      local f = io.open("/dev/null")
      if not f then break end
      files[#files + 1] = f
    end
    print(pcall(green.spawn, function() return 1 end))
    for _, f in ipairs(files) do f:close() end
    print("after", green.spawn(function() return 1 end):join())
  )");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("false\tcannot start green threads: Too many open files\n"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("after\t1\n"), std::string::npos) << r.output;
}

// Fiber stacks were mapped at the first resume, inside the hub's loop: the
// failed mmap's std::bad_alloc ended the process ("terminate called...").
TEST(FaultsUnderLimits, NoMemoryForAFiberStackIsALuaErrorAtTheSpawn) {
#ifdef GILRUN_SANITIZED
  GTEST_SKIP() << "sanitizers reserve huge address space; ulimit -v would stop them";
#endif
  const Limited r = run_limited("-v 3000000", R"(
    local green, time = require "green", require "time"
    local spawned = 0
    local ok, err = pcall(function()
      for i = 1, 200000 do
        green.spawn(function() time.sleep(0.01) end)
        spawned = i
      end
    end)
    print(ok, err, spawned < 200000)
  )");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("false\tcannot start a green thread: out of memory\ttrue\n"),
            std::string::npos) << r.output;
}

// A sleeper parks without its fiber stack and takes one back when it wakes
// (green_thread.h). Here every slot is taken meanwhile, by spawns that park
// with theirs, so the sleeper cannot get one: it must end with an error its
// joiner sees, not abort the process (Fiber::resume's last words).
TEST(FaultsUnderLimits, ASleeperWithNoStackToWakeOnEndsWithAnError) {
#ifdef GILRUN_SANITIZED
  GTEST_SKIP() << "sanitizers reserve huge address space; ulimit -v would stop them";
#endif
  const Limited r = run_limited("-v 3000000", R"(
    local green, time, sync = require "green", require "time", require "sync"
    local sleeper = green.spawn(function() time.sleep(0.001); return "woke" end)
    green.yield()  -- it sleeps, without its stack
    local go = sync.event()
    local spawned = 0
    local ok, err = pcall(function()
      for i = 1, 200000 do
        green.spawn(function() coroutine.wrap(function() go:wait() end)() end)
        spawned = i
      end
    end)
    print(ok, err, spawned < 200000)
    print(pcall(sleeper.join, sleeper))
    go:set()
  )");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("false\tcannot start a green thread: out of memory\ttrue\n"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("false\tcannot resume a green thread: out of memory"),
            std::string::npos) << r.output;
}

// The second waiter's uv_poll_init failed (one poll per descriptor and
// loop), and wait_fd called that "ready": read, EAGAIN, wait, "ready"... at
// 100% CPU, forever. Waiters on one descriptor now share its poll.
TEST_F(Faults, TwoGreenThreadsReadingOnePipeBothGetTheirByte) {
  EXPECT_TRUE(Ok(run(R"(
    local green, pipe = require "green", require "pipe"
    local a, b = pipe.pair()
    local got, readers = {}, {}
    for i = 1, 3 do
      readers[i] = green.spawn(function()
        local byte = assert(a:read(1))
        got[#got + 1] = byte
      end)
    end
    green.yield()  -- all three are waiting on `a` now
    assert(b:write("xyz"))
    for i = 1, 3 do readers[i]:join() end
    table.sort(got)
    assert(table.concat(got) == "xyz", table.concat(got, ","))
  )")));
}

TEST_F(Faults, AReaderAndAWriterWaitOnOneSocketTogether) {
  EXPECT_TRUE(Ok(run(R"(
    local green, pipe = require "green", require "pipe"
    local a, b = pipe.pair()
    local big = string.rep("x", 1 << 20)  -- more than the socket buffer holds
    local reader = green.spawn(function() return a:read(1) end)
    local writer = green.spawn(function() return a:write(big) end)
    local drained = 0
    local drainer = green.spawn(function()
      while drained < #big do drained = drained + #assert(b:read(65536)) end
    end)
    green.yield()
    assert(b:write("!"))
    assert(reader:join() == "!")
    assert(writer:join() == true)
    drainer:join()
    assert(drained == #big)
  )")));
}

}  // namespace
}  // namespace gilrun_test
