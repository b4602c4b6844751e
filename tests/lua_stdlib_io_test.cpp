// lua_stdlib_io_test.cpp — the standard library's blocking calls
// (runtime/stdlib_io.cpp) through the LuaTest fixture: they release the GIL
// (threads) and wait in the hub (green threads), and keep liolib's results.
//
// The blocking tests wait on a fifo that only another Lua thread (or green
// thread) opens and writes, after the reader has started waiting. If the
// read, the lines iterator or os.execute held the GIL (or blocked the OS
// thread under green threads), the writer could never run: they deadlock,
// and ctest's timeout fails them. They synchronise with events and joins;
// nothing sleeps. The semantics tests pin down liolib's behaviour on
// regular files and pipes (Lua 5.4.4's files.lua covers more).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "lua_fixture.h"
#include "temp_dir.h"

namespace gilrun_test {
namespace {

// StdlibIo gives each test a fresh directory, global `dir` in Lua, holding
// a fifo named "fifo".
class StdlibIo : public LuaTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkfifo(dir_.file("fifo").c_str(), 0600), 0);
    interp_.with_lua([&](lua_State* L) {
      lua_pushstring(L, dir_.path().c_str());
      lua_setglobal(L, "dir");
    });
  }

  const TempDir dir_{"gilrun-io"};
};

using StdlibIoGreen = StdlibIo;
using StdlibIoFormats = StdlibIo;

// ---------------------------------------------------------------------------
// OS threads: blocking calls release the GIL.

TEST_F(StdlibIo, AThreadBlockedInReadOfAPipeLetsTheOthersRun) {
  EXPECT_TRUE(Ok(run(R"(local fifo = dir .. "/fifo"
    local waiting = sync.event()
    local reader = thread.spawn(function()
      local p = assert(io.popen("exec cat " .. fifo))  -- cat waits for a writer
      waiting:set()
      local line, rest = p:read("l"), p:read("a")
      return line, rest, p:close()
    end)
    waiting:wait()  -- never returns if the reader's read holds the GIL
    local sum = 0
    for i = 1, 100000 do sum = sum + i end  -- Lua work while it waits
    local w = assert(io.open(fifo, "w"))
    w:write("hello ", sum, "\n", "the rest")
    w:close()
    local line, rest, ok, what, code = reader:join()
    assert(line == "hello 5000050000", line)
    assert(rest == "the rest", rest)
    assert(ok == true and what == "exit" and code == 0)
  )")));
}

TEST_F(StdlibIo, IoLinesAndIoReadOnADefaultInputPipeReleaseTheGil) {
  EXPECT_TRUE(Ok(run(R"(local fifo = dir .. "/fifo"
    local waiting = sync.event()
    local reader = thread.spawn(function()
      local p = assert(io.popen("exec cat " .. fifo))
      io.input(p)
      waiting:set()
      local n, first = io.read("n", "l")
      local lines = {}
      for l in io.lines() do lines[#lines + 1] = l end
      io.input(io.stdin)
      p:close()
      return n, first, table.concat(lines, "|")
    end)
    waiting:wait()
    local w = assert(io.open(fifo, "w"))
    w:write("42 first\nsecond\nthird\n")
    w:close()
    local n, first, lines = reader:join()
    assert(n == 42 and first == " first", tostring(n) .. "," .. tostring(first))
    assert(lines == "second|third", lines)
  )")));
}

TEST_F(StdlibIo, FileLinesOnAPipeReleasesTheGilBetweenLines) {
  EXPECT_TRUE(Ok(run(R"(local fifo = dir .. "/fifo"
    local got = queue.new()
    local more = sync.event()
    local reader = thread.spawn(function()
      local p = assert(io.popen("exec cat " .. fifo))
      got:put("started")
      for l in p:lines("L") do got:put(l) end
      p:close()
      got:put("done")
    end)
    assert(got:get() == "started")
    local w = assert(io.open(fifo, "w"))
    w:setvbuf("no")
    -- each line is written only after the reader has received the last one
    for i = 1, 5 do
      w:write("line " .. i .. "\n")
      assert(got:get() == "line " .. i .. "\n")
    end
    w:close()
    assert(got:get() == "done")
    reader:join()
  )")));
}

// Opening a fifo blocks until its other end is opened. io.open held the
// GIL meanwhile, so the thread that would open the other end never ran
// (this also hung the os.execute case below, about once a run under TSan).
TEST_F(StdlibIo, OpeningAFifoReleasesTheGilUntilTheOtherEndOpens) {
  EXPECT_TRUE(Ok(run(R"(local fifo = dir .. "/fifo"
    local writer = thread.spawn(function()
      local w = assert(io.open(fifo, "w"))  -- blocks until main opens it
      w:write("through the fifo\n")
      w:close()
    end)
    local r = assert(io.open(fifo, "r"))
    assert(r:read("l") == "through the fifo")
    r:close()
    writer:join()
    local ok, err = io.open(dir .. "/missing/file")
    assert(ok == nil and err:find("No such file or directory"), err)
    assert(not pcall(io.open, fifo, "rw"))  -- liolib's mode check
  )")));
}

TEST_F(StdlibIo, OsExecuteReleasesTheGilWhileTheCommandRuns) {
  EXPECT_TRUE(Ok(run(R"(local fifo = dir .. "/fifo"
    local writer = thread.spawn(function()
      local w = assert(io.open(fifo, "w"))  -- opens once the command reads
      w:write("ping\n")
      w:close()
    end)
    -- the command waits for a line only the writer thread provides
    local ok, what, code = os.execute("read x < " .. fifo .. " && test \"$x\" = ping")
    assert(ok == true and what == "exit" and code == 0, tostring(what) .. " " .. tostring(code))
    writer:join()
    assert(select("#", os.execute("exit 3")) == 3)
    local ok3, what3, code3 = os.execute("exit 3")
    assert(ok3 == nil and what3 == "exit" and code3 == 3)
    assert(os.execute() == true)  -- there is a shell
  )")));
}

// ---------------------------------------------------------------------------
// Green threads: reads and os.execute wait in the hub.

TEST_F(StdlibIoGreen, AGreenThreadBlockedInReadLetsItsNeighboursRun) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local fifo = dir .. "/fifo"
    local p = assert(io.popen("exec cat " .. fifo))
    local reading = sync.event()
    local reader = green.spawn(function()
      reading:set()
      return p:read("l"), p:read(3), p:read("a")
    end)
    local writer = green.spawn(function()
      reading:wait()  -- the reader is inside p:read now
      local w = assert(io.open(fifo, "w"))
      w:write("green\n", "abcdef")
      w:close()
    end)
    local line, three, rest = reader:join()
    writer:join()
    assert(p:close())
    assert(line == "green" and three == "abc" and rest == "def",
           tostring(line) .. " " .. tostring(three) .. " " .. tostring(rest))
  )")));
}

TEST_F(StdlibIoGreen, AGreenThreadInOsExecuteLetsItsNeighboursRun) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local fifo = dir .. "/fifo"
    local starting = sync.event()
    local runner = green.spawn(function()
      starting:set()
      return os.execute("read x < " .. fifo .. " && test \"$x\" = pong")
    end)
    local writer = green.spawn(function()
      starting:wait()
      local w = assert(io.open(fifo, "w"))
      w:write("pong\n")
      w:close()
    end)
    local ok, what, code = runner:join()
    writer:join()
    assert(ok == true and what == "exit" and code == 0, tostring(what) .. " " .. tostring(code))
  )")));
}

TEST_F(StdlibIoGreen, KillEndsAGreenThreadBlockedInRead) {
  EXPECT_TRUE(Ok(run(R"(local green = require "green"
    local fifo = dir .. "/fifo"
    local p = assert(io.popen("exec cat " .. fifo))
    local reading = sync.event()
    local reader = green.spawn(function()
      reading:set()
      return p:read("a")
    end)
    reading:wait()
    reader:kill()
    local r, why = reader:join()
    assert(r == nil and why == "killed", tostring(why))
    local w = assert(io.open(fifo, "w"))  -- let cat finish
    w:close()
    assert(p:read("a") == "")
    assert(p:close())
  )")));
}

// A green read waits in libuv's watcher, which makes the descriptor
// non-blocking: on stdin (a terminal, or the parent's pipe, shared with other
// processes) the flag must not stay behind.
TEST_F(StdlibIoGreen, AGreenReadOfStdinLeavesItBlocking) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const int saved_stdin = dup(0);
  ASSERT_GE(saved_stdin, 0);
  ASSERT_EQ(dup2(fds[0], 0), 0);
  close(fds[0]);
  interp_.with_lua([&](lua_State* L) {
    lua_pushinteger(L, fds[1]);
    lua_setglobal(L, "stdin_writer");
  });
  const gilrun::RunResult r = run(R"(local green = require "green"
    local reading = sync.event()
    local reader = green.spawn(function()
      reading:set()
      return io.read("l")
    end)
    local writer = green.spawn(function()
      reading:wait()
      local w = assert(io.open("/proc/self/fd/" .. stdin_writer, "w"))
      w:write("from stdin\n")
      w:close()
    end)
    line = reader:join()
    writer:join()
  )");
  const int flags = fcntl(0, F_GETFL);
  dup2(saved_stdin, 0);
  close(saved_stdin);
  close(fds[1]);
  clearerr(stdin);
  ASSERT_TRUE(Ok(r));
  EXPECT_EQ(string("line"), "from stdin");
  EXPECT_EQ(flags & O_NONBLOCK, 0);
}

// ---------------------------------------------------------------------------
// liolib's semantics, on regular files and on pipes.

TEST_F(StdlibIoFormats, NumbersAndTheirEdgeCases) {
  EXPECT_TRUE(Ok(run(R"(local name = dir .. "/numbers"
    local f = assert(io.open(name, "w"))
    f:write("  12 -3.5e2 0x1F .5 0x1p4 +7 ", math.maxinteger, " ", math.mininteger,
            " 12abc 0x ; 1e+ -", string.rep("1", 250), " 9\n")
    f:close()
    f = assert(io.open(name))
    assert(math.type(f:read("n")) == "integer")  -- 12
    assert(f:read("n") == -350.0)
    assert(f:read("n") == 31)
    assert(f:read("n") == 0.5)
    assert(f:read("*n") == 16.0)  -- the old '*' prefix
    assert(f:read("n") == 7)
    assert(f:read("n") == math.maxinteger)
    assert(f:read("n") == math.mininteger)
    assert(f:read("n") == 12 and f:read(3) == "abc")
    assert(f:read("n") == nil and f:read(2) == " ;")   -- "0x" is not a numeral
    assert(f:read("n") == nil and f:read(1) == " ")    -- nor is "1e+"
    assert(f:read("n") == nil)                         -- too long: fails
    assert(f:read("l") == string.rep("1", 51) .. " 9") -- the rest of its line
    assert(f:read("n") == nil and f:read(0) == nil)    -- end of file
    f:close()
  )")));
}

TEST_F(StdlibIoFormats, LinesAllCountsAndMultipleFormats) {
  EXPECT_TRUE(Ok(run(R"(local name = dir .. "/text"
    local long = string.rep("x", 5000)  -- longer than liolib's chunk and stdio's buffer
    local f = assert(io.open(name, "w"))
    f:write("first\n\n", long, "\nlast")
    f:close()
    f = assert(io.open(name))
    assert(f:read() == "first")
    assert(f:read("L") == "\n")
    assert(f:read("l") == long)
    assert(f:read(0) == "")  -- not at the end
    assert(f:read("L") == "last")
    assert(f:read("l") == nil and f:read("L") == nil and f:read(1) == nil)
    assert(f:read(0) == nil)
    assert(f:read("a") == "" and f:read("a") == "")  -- "a" at the end
    assert(f:seek("set", 0) == 0)
    local a, b, c, d, e = f:read(2, "l", "n", "a", "l")
    assert(a == "fi" and b == "rst" and c == nil and d == nil and e == nil)
    assert(f:seek("set", 0) == 0)
    assert(select("#", f:read("l", "l", "l", "l", "l")) == 5)
    assert(f:seek("set", 0) == 0)
    assert(#f:read("a") == #long + 12)
    f:close()
    local ok, err = pcall(f.read, f)
    assert(not ok and err:find("attempt to use a closed file", 1, true), err)
    f = assert(io.open(name))
    ok, err = pcall(f.read, f, "x")
    assert(not ok and err:find("invalid format", 1, true), err)
    ok, err = pcall(f.read, f, 1.5)
    assert(not ok and err:find("number has no integer representation", 1, true), err)
    f:close()
  )")));
}

TEST_F(StdlibIoFormats, LinesWithFormatsAndTheirErrors) {
  EXPECT_TRUE(Ok(run(R"(local name = dir .. "/lines"
    local f = assert(io.open(name, "w"))
    f:write("1 2\n3 4\nab\n")
    f:close()
    local sums = {}
    for a, b in io.lines(name, "n", "n") do sums[#sums + 1] = a + b end
    assert(#sums == 2 and sums[1] == 3 and sums[2] == 7)
    local chars = {}
    for c in io.lines(name, 1) do chars[#chars + 1] = c end
    assert(table.concat(chars) == "1 2\n3 4\nab\n")
    -- io.lines(name) returns the file as its 4th value, closed at the end
    local iter, _, _, file = io.lines(name, "L")
    assert(io.type(file) == "file" and iter() == "1 2\n")
    for _ in iter do end
    assert(io.type(file) == "closed file")
    local ok, err = pcall(iter)
    assert(not ok and err:find("file is already closed", 1, true), err)
    ok, err = pcall(io.lines, dir .. "/missing")
    assert(not ok and err:find("cannot open file '" .. dir .. "/missing' (No such file", 1, true), err)
    local many = {}
    for i = 1, 251 do many[i] = "l" end
    ok, err = pcall(io.lines, name, table.unpack(many))
    assert(not ok and err:find("too many arguments", 1, true), err)
    -- file:lines does not close the file
    f = assert(io.open(name))
    local n = 0
    for l in f:lines() do n = n + 1 end
    assert(n == 3 and io.type(f) == "file")
    f:close()
    ok, err = pcall(f.lines, f)
    assert(not ok and err:find("attempt to use a closed file", 1, true), err)
    -- a read error stops the iterator with the error
    f = assert(io.open(name, "w"))
    ok, err = pcall(f:lines())
    assert(not ok and type(err) == "string" and not tonumber(err), err)
    local r, m, code = f:read()
    assert(r == nil and type(m) == "string" and math.type(code) == "integer", m)
    f:close()
  )")));
}

TEST_F(StdlibIoFormats, FormatsOnAPipeMatchTheFileResults) {
  EXPECT_TRUE(Ok(run(R"(local name = dir .. "/data"
    local f = assert(io.open(name, "w"))
    local big = string.rep("0123456789", 20000)  -- many pipe buffers
    local content = "12 0x1F\nline two\n\n" .. big .. "\nlast"
    f:write(content)
    f:close()
    local function read_all(h)
      local t = table.pack(h:read("n", "n", "l", "L", "l", 10, "L", 0, "l", "a", 0))
      h:close()
      return t
    end
    local from_file = read_all(assert(io.open(name)))
    local from_pipe = read_all(assert(io.popen("cat " .. name)))
    assert(from_file.n == 11 and from_pipe.n == 11)
    for i = 1, 11 do
      assert(from_file[i] == from_pipe[i], i .. ": " .. tostring(from_pipe[i]))
    end
    assert(from_file[1] == 12 and from_file[2] == 31 and from_file[3] == "")
    assert(from_file[4] == "line two\n" and from_file[5] == "" and from_file[6] == "0123456789")
    assert(from_file[9] == "last" and from_file[10] == "" and from_file[11] == nil)
    local p = assert(io.popen("cat " .. name))
    assert(p:read(1 << 20) == content and p:read(1) == nil)
    p:close()
  )")));
}

TEST_F(StdlibIoFormats, PopenAndExecuteReportStatusesAsLiolibDoes) {
  EXPECT_TRUE(Ok(run(R"(
    for _, c in ipairs{"true", "exit 3", "kill -s HUP $$", "not-a-command-here 2>/dev/null"} do
      local a, b, c2 = io.popen(c):close()
      local x, y, z = os.execute(c)
      assert(a == x and b == y and c2 == z, c)
    end
    assert(select(2, os.execute("kill -s HUP $$")) == "signal")
    local ok, err = pcall(io.popen, "cat", "r+")
    assert(not ok and err:find("invalid mode", 1, true), err)
    local w = assert(io.popen("cat > " .. dir .. "/out", "w"))
    local r, m, code = w:read()  -- a write-only pipe: fails at once, never waits
    assert(r == nil and type(m) == "string" and math.type(code) == "integer", m)
    w:write("written")
    assert(w:close())
    assert(io.open(dir .. "/out"):read("a") == "written")
  )")));
}

}  // namespace
}  // namespace gilrun_test
