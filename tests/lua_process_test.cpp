// lua_process_test.cpp — the process module at the Lua level: spawn/join,
// values that cross and values that are refused, errors with the child's
// traceback, process queues, pools (order, crashed workers), process.run;
// the tests of children run under both start methods.
//
// Children are real gilrun processes (Options::worker_executable is the
// built gilrun binary). Tests synchronise through joins, queues and exits,
// never sleeps; the timeouts below are only there to prove a timeout path.
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "lua_fixture.h"
#include "temp_dir.h"

namespace {

using gilrun_test::Contains;
using gilrun_test::LuaTest;
using gilrun_test::Ok;

class ProcessTest : public LuaTest {
 protected:
  ProcessTest() { EXPECT_TRUE(Ok(run("process = require 'process'"))); }

  // error_of() runs `code` (which must fail) and returns the error text.
  std::string error_of(const std::string& code) {
    const gilrun::RunResult r = run(code);
    EXPECT_FALSE(r) << code;
    return r.text();
  }
};

// Every test of children runs once per start method (forkserver, the
// default, and spawn): the same results, errors and failures either way.
class StartMethodTest : public ProcessTest, public ::testing::WithParamInterface<const char*> {
 protected:
  StartMethodTest() {
    EXPECT_TRUE(Ok(run(std::string("process.set_start_method '") + GetParam() + "'")));
  }
};
INSTANTIATE_TEST_SUITE_P(Start, StartMethodTest, ::testing::Values("forkserver", "spawn"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(StartMethodTest, SpawnRunsARecursiveLocalFunctionInAChild) {
  EXPECT_TRUE(Ok(run(R"(
    local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
    local p = process.spawn(fib, 20)
    assert(math.type(p.pid) == "integer" and p.pid ~= process.current().pid)
    assert(p:join() == 6765)
    assert(p.exitcode == 0 and not p:alive())
    assert(p:join() == 6765)  -- joining again gives the same results
  )")));
}

TEST_P(StartMethodTest, ChildHasItsOwnInterpreter) {
  EXPECT_TRUE(Ok(run(R"(
    shared = "parent"
    local proc = require "process"  -- a module upvalue: the child uses its own
    local p = process.spawn(function() shared = "child"; return proc.current().pid,
                                                                proc.current().ppid end)
    local child_pid, child_parent = p:join()
    assert(child_pid == p.pid and child_parent ~= nil)
    assert(shared == "parent")
  )")));
}

TEST_P(StartMethodTest, EveryKindOfValueCrossesBothWays) {
  EXPECT_TRUE(Ok(run(R"(
    local t = {1, 2, x = {y = "z"}}
    t.self = t                    -- a cycle
    local shared = {}
    local args = {n = nil, yes = true, no = false, int = 3, float = 3.0, big = math.maxinteger,
                  bytes = "a\0b\255", nested = {{{}}}, a = shared, b = shared, cyc = t}
    local offset = 100
    local function add(v) return v + offset end   -- a closure with an upvalue
    local p = process.spawn(function(v, f)
      assert(math.type(v.int) == "integer" and math.type(v.float) == "float")
      assert(v.bytes == "a\0b\255" and v.yes == true and v.no == false)
      assert(v.a == v.b and v.cyc.self == v.cyc and v.cyc.x.y == "z")
      assert(type(string) == "table")  -- _ENV is the child's globals
      return v, f(1), nil, 2.5
    end, args, add)
    local v, added, hole, last = p:join()
    assert(added == 101 and hole == nil and last == 2.5)
    assert(math.type(v.int) == "integer" and math.type(v.float) == "float")
    assert(v.big == math.maxinteger and v.bytes == "a\0b\255")
    assert(v.a == v.b and v.a ~= shared)   -- shared inside one message, copied
    assert(v.cyc.self == v.cyc and #v.nested[1][1] == 0)
  )")));
}

TEST_P(StartMethodTest, ValuesThatCannotCrossAreNamedByPath) {
  EXPECT_TRUE(Contains(error_of("process.spawn(function() end, 1, {conn = io.stdout})"),
                       "cannot copy args[2].conn: userdata"));
  EXPECT_TRUE(Contains(error_of("process.spawn(function() end, coroutine.create(print))"),
                       "cannot copy args[1]: coroutine"));
  EXPECT_TRUE(Contains(error_of("process.spawn(print)"), "cannot copy function[1]: C function"));
  EXPECT_TRUE(Contains(error_of("local sock = io.stdout\n"
                                "process.spawn(function() return sock end)"),
                       "cannot copy function[1] (upvalue 'sock'): userdata"));
  EXPECT_TRUE(Contains(error_of("process.spawn(function() return io.stdout end):join()"),
                       "cannot copy results[1]: userdata"));
  EXPECT_TRUE(Contains(error_of("process.spawn(42)"), "bad argument #1 to 'spawn'"));
}

TEST_P(StartMethodTest, JoinRaisesTheChildErrorWithItsTraceback) {
  const std::string text = error_of(R"(
    local function inner() error("boom") end
    local p = process.spawn(function() inner() end)
    p:join()
  )");
  EXPECT_TRUE(Contains(text, "test.lua:2: boom"));
  EXPECT_TRUE(Contains(text, "child process"));
  EXPECT_TRUE(Contains(text, "in upvalue 'inner'"));
}

// Issue 12, item 11: a table error used to arrive as the string "(error
// object is a table value)", without a traceback.
TEST_P(StartMethodTest, ATableErrorArrivesAsItselfWithTheChildsTraceback) {
  EXPECT_TRUE(Ok(run(R"(
    local function inner() error({code = 9, detail = {where = "inner"}}) end
    local p = process.spawn(function() inner() end)
    assert(p:traceback() == nil)
    local ok, err = pcall(p.join, p)
    assert(not ok and type(err) == "table", tostring(err))
    assert(err.code == 9 and err.detail.where == "inner")
    local tb = p:traceback()
    assert(tb:find("^stack traceback:") and tb:find("in upvalue 'inner'"), tb)
    assert(tb:find("test.lua:2:", 1, true), tb)
  )")));
}

TEST_P(StartMethodTest, PoolFuturesRaiseTableErrorsAsThemselves) {
  EXPECT_TRUE(Ok(run(R"(
    local pool = process.pool(1)
    local f = pool:submit(function() error({code = 10}) end)
    local ok, err = pcall(f.result, f)
    assert(not ok and type(err) == "table" and err.code == 10, tostring(err))
    assert(f:traceback():find("test.lua:3:", 1, true), f:traceback())
    -- done but never collected: the traceback is there all the same
    local g = pool:submit(function() error({code = 11}) end)
    while not g:done() do pool:wait_completed(pool:completed()) end
    assert(g:traceback():find("test.lua:8:", 1, true), g:traceback())
    local ok2, err2 = pcall(g.result, g)
    assert(not ok2 and err2.code == 11)
    ok, err = pcall(pool.map, pool, function(i) if i == 2 then error({item = i}) end end, {1, 2})
    assert(not ok and type(err) == "table" and err.item == 2, tostring(err))
    local h = pool:submit(function() return 1 end)
    assert(h:result() == 1 and h:traceback() == nil)
    pool:close(); pool:join()
  )")));
}

TEST_P(StartMethodTest, AnErrorThatCannotCrossArrivesAsItsTostringText) {
  EXPECT_TRUE(Ok(run(R"lua(
    local p = process.spawn(function()
      error(setmetatable({conn = io.stdout}, {__tostring = function(e)
        return "custom error from pid " .. require("process").current().pid
      end}))
    end)
    local ok, err = pcall(p.join, p)
    assert(not ok and type(err) == "string", tostring(err))
    assert(err:find("^custom error from pid " .. p.pid .. "\n"), err)  -- computed in the child
    assert(err:find("child process " .. p.pid .. " stack traceback:", 1, true), err)
    assert(p:traceback():find("test.lua:3:", 1, true))
    local q = process.spawn(function() error({conn = io.stdout}) end)
    ok, err = pcall(q.join, q)
    assert(err:find("^%(error object is a table value: cannot copy error%.conn: userdata%)"), err)
  )lua")));
}

TEST_P(StartMethodTest, StringErrorsKeepTheirMessageAndTraceback) {
  EXPECT_TRUE(Ok(run(R"(
    local p = process.spawn(function() error("boom") end)
    local ok, err = pcall(p.join, p)
    assert(not ok and err:find("^test.lua:2: boom\nchild process " .. p.pid ..
                               " stack traceback:\n"), err)
    local tb = p:traceback()
    assert(tb:find("^stack traceback:\n") and err:sub(-#tb) == tb, tb)
    ok, err = pcall(p.join, p)  -- joining again raises the same
    assert(err:find("^test.lua:2: boom\n"), err)
  )")));
}

// Issue 12, item 12: the child gave a sandboxed function its own globals.
TEST_P(StartMethodTest, ASandboxedEnvCrossesAsItselfAndTheGlobalsStayTheChilds) {
  EXPECT_TRUE(Ok(run(R"(
    assert(process.spawn(load("return x", "c", "t", {x = 42})):join() == 42)
    local sandboxed = load("return print, string", "c", "t", {})
    local p = process.spawn(function(f)
      local a, b = f()
      return a == nil and b == nil, type(string), process ~= nil
    end, sandboxed)
    local escaped_not, child_string, child_global = p:join()
    assert(escaped_not, "the sandbox escaped")
    assert(child_string == "table" and child_global == false)
  )")));
}

TEST_P(StartMethodTest, AChildThatExitsOrIsKilledIsReported) {
  EXPECT_TRUE(Ok(run(R"(
    local p = process.spawn(function() os.exit(3) end)
    local ok, err = pcall(p.join, p)
    assert(not ok and err:find("exited with status 3 before returning"), err)
    assert(p.exitcode == 3)
    local q = process.queue()
    local sleeper = process.spawn(function(q) q:get() end, q)
    assert(sleeper:alive())
    assert(sleeper:kill())
    ok, err = pcall(sleeper.join, sleeper)
    assert(not ok and err:find("was killed by SIGKILL"), err)
    assert(sleeper.exitcode == -9 and not sleeper:alive())
    assert(sleeper:kill() == false)  -- already reaped
  )")));
}

TEST_P(StartMethodTest, JoinTimesOut) {
  EXPECT_TRUE(Ok(run(R"(
    local q = process.queue()
    local p = process.spawn(function(q) return q:get() * 2 end, q)
    local r, why = p:join(0.05)
    assert(r == nil and why == "timeout" and p:alive() and p.exitcode == nil)
    q:put(21)
    assert(p:join() == 42)
  )")));
}

// The script's path is the test's own (TempDir): ctest runs both start
// methods' cases at once, and a shared fixed path was rewritten under one
// while the other's child read it.
TEST_P(StartMethodTest, SpawnRunsAScriptFile) {
  const gilrun_test::TempDir dir("gilrun-process");
  const std::string path = dir.file("worker.lua");
  std::ofstream(path) << "local a, b = ...\nreturn a + b, arg[0], #arg\n";
  EXPECT_TRUE(Ok(run("local path = '" + path + R"('
    local p = process.spawn{script = path, args = {2, 40}}
    local sum, name, n = p:join()
    assert(sum == 42 and name == path and n == 2, tostring(name))
    local bad = process.spawn{script = "/nonexistent/x.lua"}
    local ok, err = pcall(bad.join, bad)
    assert(not ok and err:find("cannot open /nonexistent/x.lua"), err)
  )")));
}

TEST_P(StartMethodTest, QueueBetweenParentAndTwoChildren) {
  EXPECT_TRUE(Ok(run(R"(
    local work, results = process.queue(), process.queue()
    local function worker(work, results)
      local n = 0
      while true do
        local item = work:get()
        if item == "stop" then return n end
        results:put({id = item.id, square = item.value * item.value,
                     pid = require("process").current().pid})
        n = n + 1
      end
    end
    local a, b = process.spawn(worker, work, results), process.spawn(worker, work, results)
    for i = 1, 200 do work:put({id = i, value = i}) end
    work:put("stop"); work:put("stop")
    local seen, pids = {}, {}
    for _ = 1, 200 do
      local r = assert(results:get(30))  -- a limit, so that a broken child fails the test
      assert(r.square == r.id * r.id and not seen[r.id])
      seen[r.id] = true
      pids[r.pid] = true
    end
    assert(a:join() + b:join() == 200)
    assert(pids[a.pid] or pids[b.pid])
  )")));
}

TEST_P(StartMethodTest, BoundedQueueAndLargeItems) {
  EXPECT_TRUE(Ok(run(R"(
    local q = process.queue(2)
    assert(q:put(1) and q:put(2))
    local ok, why = q:put(3, 0)
    assert(ok == nil and why == "timeout")
    assert(q:get() == 1)
    assert(q:put(3, 0))
    assert(q:get() == 2 and q:get() == 3)
    local r, why2 = q:get(0.01)
    assert(r == nil and why2 == "timeout")
    local big = string.rep("x", 1 << 20)   -- larger than a datagram: a memfd
    local p = process.spawn(function(q) local s = q:get(); q:put(#s); return #s end, q)
    q:put(big)
    assert(p:join() == #big)
    assert(q:get() == #big)
    assert(not pcall(q.put, q, nil))
    ok, why = pcall(q.put, q, io.stdout)
    assert(not ok and why:find("cannot copy item%[1%]: userdata"), why)
  )")));
}

TEST_P(StartMethodTest, AQueueCreatedAfterAChildStartedIsRefusedThere) {
  EXPECT_TRUE(Ok(run(R"(
    local pool = process.pool(1)
    local late = process.queue()
    local ok, err = pcall(function() return pool:submit(function(q) q:put(1) end, late):result() end)
    assert(not ok and err:find("did not inherit that queue"), err)
    pool:close(); pool:join()
  )")));
}

TEST_P(StartMethodTest, PoolMapKeepsOrder) {
  EXPECT_TRUE(Ok(run(R"(
    local pool = process.pool(2)
    local items = {}
    for i = 1, 30 do items[i] = i end
    local squares = pool:map(function(i)
      local x = 0
      for _ = 1, (31 - i) * 1000 do x = x + 1 end  -- early items take longer
      return i * i
    end, items)
    assert(#squares == 30)
    for i = 1, 30 do assert(squares[i] == i * i, i) end
    local f = pool:submit(function(a, b) return a .. b, #a end, "x", "y")
    local s, n = f:result()
    assert(s == "xy" and n == 1 and f:done())
    pool:close()
    pool:join()
    assert(not pcall(pool.submit, pool, print))
  )")));
}

TEST_P(StartMethodTest, PoolSurvivesWorkersThatDie) {
  EXPECT_TRUE(Ok(run(R"(
    local pool = process.pool(2)
    local exits = pool:submit(function() os.exit(7) end)
    local ok, err = pcall(exits.result, exits)
    assert(not ok and err:find("exited with status 7 while running this task"), err)
    local killed = pool:submit(function()
      local process = require "process"
      process.run({"kill", "-9", tostring(process.current().pid)})
    end)
    ok, err = pcall(killed.result, killed)
    assert(not ok and err:find("was killed by SIGKILL while running this task"), err)
    local fails = pool:submit(function() error("task error") end)
    ok, err = pcall(fails.result, fails)
    assert(not ok and err:find("task error"), err)
    ok, err = pcall(pool.map, pool, function(i) if i == 3 then os.exit(1) end return i end,
                    {1, 2, 3, 4})
    assert(not ok and err:find("exited with status 1"), err)
    local after = pool:map(function(i) return i + 1 end, {1, 2, 3, 4, 5})
    assert(#after == 5 and after[5] == 6)
    pool:close(); pool:join()
  )")));
}

// A worker that dies while idle (the OOM killer, kill -9) is noticed only
// when the next task is sent to it: that write raised SIGPIPE and the parent
// died without a word (exit 141). Now the task goes to a replacement.
TEST_P(StartMethodTest, PoolReplacesAWorkerThatDiedIdle) {
  EXPECT_TRUE(Ok(run(R"lua(
    local pool = process.pool(1)
    local pid = pool:submit(function() return require("process").current().pid end):result()
    assert(os.execute("kill -9 " .. pid))
    -- Dead once it is a zombie with no thread left (a spawned worker: the
    -- pool reaps it only when it notices) or gone (a forked one: the fork
    -- server reaps it). A multithreaded worker (TSan's has a thread of its
    -- own) shows its first thread as a zombie while another still holds
    -- its descriptors, and so the socket, open: the task sent then was lost
    -- with it (13 runs in 30 under TSan). (The file can vanish between the
    -- open and the read: reaped then.)
    local function dead()
      local status = io.open("/proc/" .. pid .. "/status")
      if not status then return true end
      local text = status:read("a")
      status:close()
      if not text or text == "" then return true end
      return text:match("\nState:%s*Z") ~= nil and text:match("\nThreads:%s*(%d+)") == "1"
    end
    repeat until dead()
    local f = pool:submit(function() return "ok", require("process").current().pid end)
    local result, new_pid = f:result()
    assert(result == "ok" and new_pid ~= pid, tostring(result))
    pool:close(); pool:join()
  )lua")));
}

// A worker polls for its next task for a few tens of microseconds after a
// reply before it sleeps in read() (entry.cpp): an idle worker must end up
// asleep ('S' in /proc/PID/stat), not spinning ('R') for good — a spin that
// never ended would leave this loop to the test's deadline. The tasks that
// follow (back to back, each one in the worker's spin or after it) are all
// answered.
TEST_P(StartMethodTest, AnIdlePoolWorkerGoesToSleepAfterItsSpin) {
  EXPECT_TRUE(Ok(run(R"lua(
    local pool = process.pool(1)
    local pid = pool:submit(function() return require("process").current().pid end):result()
    local function state()
      local stat = io.open("/proc/" .. pid .. "/stat")
      local text = stat and stat:read("a")
      if stat then stat:close() end
      return text and text:match("^%d+ %b() (%a)")
    end
    repeat until state() == "S"
    for i = 1, 200 do assert(pool:submit(function(x) return x + 1 end, i):result() == i + 1) end
    repeat until state() == "S"
    pool:close(); pool:join()
  )lua")));
}

// io.open's files are not close-on-exec: every process.run command (and
// every worker, and its io.popen children) inherited them.
TEST_P(StartMethodTest, ChildrenGetOnlyTheirOwnDescriptors) {
  EXPECT_TRUE(Ok(run(R"lua(
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local r = process.run({"sh", "-c", "ls -l /proc/$$/fd"})
    assert(not r.stdout:find(path, 1, true), r.stdout)
    local fds = 0
    for line in r.stdout:gmatch("[^\n]+ (%d+) %-> ") do fds = fds + 1 end
    assert(fds == 3, r.stdout)  -- stdin, stdout, stderr
    local pool = process.pool(1)
    local listing = pool:submit(function(path)
      local p = io.popen("ls -l /proc/self/fd")
      local out = p:read("a")
      p:close()
      return out
    end, path):result()
    assert(not listing:find(path, 1, true), listing)
    pool:close(); pool:join()
    f:close()
    os.remove(path)
  )lua")));
}

TEST_F(ProcessTest, RunRejectsWhatItCannotPassOnAsIs) {
  EXPECT_TRUE(Ok(run(R"lua(
    local function fails(pattern, ...)
      local ok, err = pcall(process.run, ...)
      assert(not ok and err:find(pattern, 1, true), tostring(err))
    end
    fails("unknown option 'tiemout'", {"true"}, {tiemout = 1})
    fails("an argv string contains a NUL byte", {"echo", "a\0b"})
    fails("cwd contains a NUL byte", {"true"}, {cwd = "/tmp\0x"})
    fails("timeout must be a non-negative number", {"true"}, {timeout = 0/0})
    fails("cannot start it in directory /nonexistent: No such file or directory",
          {"pwd"}, {cwd = "/nonexistent"})
  )lua")));
}

TEST_P(StartMethodTest, FutureResultTimesOut) {
  EXPECT_TRUE(Ok(run(R"(
    local q = process.queue()
    local pool = process.pool(1)
    local f = pool:submit(function(q) return q:get() end, q)
    local r, why = f:result(0.05)
    assert(r == nil and why == "timeout" and not f:done())
    q:put("late")
    assert(f:result() == "late")
    pool:close(); pool:join()
  )")));
}

TEST_F(ProcessTest, RunCapturesOutputAndExitCodes) {
  EXPECT_TRUE(Ok(run(R"(
    local r = process.run({"sh", "-c", "echo out; echo err >&2; exit 4"})
    assert(r.code == 4 and r.signal == nil and r.stdout == "out\n" and r.stderr == "err\n")
    r = process.run({"sh", "-c", "kill -TERM $$"})
    assert(r.code == nil and r.signal == 15)
    r = process.run({"cat"}, {stdin = "fed\0bytes"})
    assert(r.code == 0 and r.stdout == "fed\0bytes")
    r = process.run({"cat"})
    assert(r.stdout == "")   -- stdin is /dev/null by default
    r = process.run("echo $GREETING; pwd", {shell = true, env = {GREETING = "hi"}, cwd = "/"})
    assert(r.stdout == "hi\n/\n", r.stdout)
    r = process.run({"true"})
    assert(r.code == 0)
  )")));
}

TEST_F(ProcessTest, RunTimeoutKillsTheCommand) {
  EXPECT_TRUE(Ok(run(R"(
    local r, why, partial = process.run({"sh", "-c", "echo started; exec sleep 30"},
                                        {timeout = 0.2})
    assert(r == nil and why == "timeout" and partial.stdout == "started\n", partial.stdout)
  )")));
}

TEST_F(ProcessTest, RunRefusesBadCommands) {
  EXPECT_TRUE(Contains(error_of("process.run('echo hi')"), "needs shell = true"));
  EXPECT_TRUE(Contains(error_of("process.run({'/no/such/program'})"),
                       "cannot run '/no/such/program': No such file or directory"));
  EXPECT_TRUE(Contains(error_of("process.run({})"), "argv is empty"));
  EXPECT_TRUE(Contains(error_of("process.run({'true'}, {env = {X = {}}})"),
                       "env must map names to strings"));
}

// gone() waits until process `pid` (not our child) has ended: its pidfd
// becomes readable. The limit only guards against a hang.
bool gone(pid_t pid) {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;  // already gone
  pollfd p{fd, POLLIN, 0};
  const int n = poll(&p, 1, 30000);
  close(fd);
  return n == 1;
}

TEST_P(StartMethodTest, NoChildSurvivesItsParent) {
  // The middle process is a gilrun parent like any other; killing it -9
  // gives it no chance to clean up, so only die_with_parent saves us.
  EXPECT_TRUE(Ok(run(R"(
    local pids, block = process.queue(), process.queue()
    local middle = process.spawn(function(pids, block)
      local process = require "process"
      local grandchild = process.spawn(function(block) return block:get() end, block)
      pids:put(grandchild.pid)
      return grandchild:join()
    end, pids, block)
    grandchild = pids:get(30)
    assert(middle:kill(9))
    local ok, err = pcall(middle.join, middle)
    assert(not ok and err:find("SIGKILL"), err)
  )")));
  const lua_Integer pid = integer("grandchild");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(gone(static_cast<pid_t>(pid))) << "process " << pid << " outlived its parent";
}

TEST_F(ProcessTest, CpuCountAndCurrent) {
  EXPECT_TRUE(Ok(run(R"(
    assert(process.cpu_count() >= 1)
    assert(process.current().pid > 0)
  )")));
}

}  // namespace
