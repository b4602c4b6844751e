// lua_fork_server_test.cpp — the forkserver start method
// (runtime/process/fork_server.h): children are forked by one
// single-threaded server per parent, the server and its children die with
// the parent, a dead server takes its workers' tasks down with it and is
// replaced, a server that cannot start falls back to posix_spawn, and no
// process is ever left a zombie. The results and errors of children under
// either method are the parameterised tests of lua_process_test.cpp.
//
// Tests synchronise on queues, joins and exits (pidfds), never on sleeps.
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "guarded_test.h"
#include "lua_fixture.h"
#include "temp_dir.h"

namespace {

using gilrun_test::Contains;
using gilrun_test::LuaTest;
using gilrun_test::Ok;

// zombies_of() lists the zombie children of `parent`, from /proc.
std::vector<pid_t> zombies_of(pid_t parent) {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  while (dirent* e = proc ? readdir(proc) : nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (state == 'Z' && ppid == parent) out.push_back(std::atoi(e->d_name));
  }
  if (proc) closedir(proc);
  return out;
}

// gone() waits until process `pid` (not our child) has ended.
bool gone(pid_t pid) {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  const int n = poll(&p, 1, 30000);  // only a guard against a hang
  close(fd);
  return n == 1;
}

class ForkServerTest : public LuaTest {
 protected:
  ForkServerTest() {
    EXPECT_TRUE(Ok(run(R"lua(
      process = require 'process'
      -- parent_of(pid): the ppid field of /proc/PID/stat
      function parent_of(pid)
        local stat = assert(io.open("/proc/" .. pid .. "/stat")):read("a")
        return tonumber(stat:match("^%d+ %b() %a (%d+)"))
      end
      function threads_of(pid)
        local status = assert(io.open("/proc/" .. pid .. "/status")):read("a")
        return tonumber(status:match("Threads:%s*(%d+)"))
      end
      function cmdline_of(pid)
        return (assert(io.open("/proc/" .. pid .. "/cmdline")):read("a"):gsub("%z", " "))
      end
      function whose() return require("process").current().ppid end
    )lua")));
  }
};

TEST_F(ForkServerTest, WorkersAreForkedByOneSingleThreadedServer) {
  EXPECT_TRUE(Ok(run(R"(
    assert(process.get_start_method() == "forkserver")  -- the default
    local me = process.current().pid
    local pool = process.pool(2)
    local a = pool:submit(whose):result()
    local p = process.spawn(whose)
    local b = p:join()
    assert(a ~= me and a == b, "forked by the server, not by us")
    assert(parent_of(a) == me, "the server is our child")
    assert(cmdline_of(a):find("--fork-server", 1, true), cmdline_of(a))
    assert(threads_of(a) == 1, "the fork server runs " .. threads_of(a) .. " threads")
    server = a
    pool:close(); pool:join()
    local spawned = process.pool{1, start = "spawn"}
    assert(spawned:submit(whose):result() == me)
    spawned:close(); spawned:join()
  )")));
  // Every worker that ended was reaped, by the server or by us.
  EXPECT_TRUE(zombies_of(getpid()).empty());
  EXPECT_TRUE(zombies_of(static_cast<pid_t>(integer("server"))).empty());
}

// A worker killed mid-task (here from the parent, by pid) fails that task
// and is replaced; the other worker's task is untouched.
TEST_F(ForkServerTest, AWorkerKilledMidTaskFailsItsTaskAndThePoolGoesOn) {
  EXPECT_TRUE(Ok(run(R"(
    local started, release = process.queue(), process.queue()  -- before the workers
    local pool = process.pool(2)
    local victim = pool:submit(function(started, release)
      started:put(require("process").current().pid)
      return release:get()
    end, started, release)
    local other = pool:submit(function(started, release)
      started:put(0)
      return release:get()
    end, started, release)
    local pid = started:get(30)
    if pid == 0 then pid = started:get(30) end
    assert(process.run({"kill", "-9", tostring(pid)}).code == 0)
    local ok, err = pcall(victim.result, victim)
    assert(not ok and err:find("was killed by SIGKILL while running this task"), err)
    release:put("done")
    assert(other:result() == "done")
    local r = pool:map(function(x) return x * 2 end, {1, 2, 3})
    assert(r[1] == 2 and r[3] == 6)
    pool:close(); pool:join()
  )")));
  EXPECT_TRUE(zombies_of(getpid()).empty());
}

// The server killed: its workers die with it (their tasks fail), the next
// worker comes from a new server, and the dead one is reaped.
TEST_F(ForkServerTest, AServerThatDiesTakesItsWorkersAndIsReplaced) {
  EXPECT_TRUE(Ok(run(R"(
    local started, never = process.queue(), process.queue()
    local pool = process.pool(1)
    local f = pool:submit(function(started, never)
      started:put(require("process").current().ppid)
      return never:get()  -- never answered
    end, started, never)
    old_server = started:get(30)
    assert(process.run({"kill", "-9", tostring(old_server)}).code == 0)
    local ok, err = pcall(f.result, f)
    assert(not ok and err:find("was killed by SIGKILL while running this task"), err)
    new_server = pool:submit(whose):result()
    assert(new_server ~= old_server and new_server ~= process.current().pid)
    pool:close(); pool:join()
  )")));
  EXPECT_TRUE(zombies_of(getpid()).empty());
  const pid_t old_server = static_cast<pid_t>(integer("old_server"));
  EXPECT_TRUE(gone(old_server));
}

// A parent killed outright: its server and the server's workers go too.
TEST_F(ForkServerTest, AParentKilledTakesItsServerAndWorkers) {
  EXPECT_TRUE(Ok(run(R"(
    local pids, block = process.queue(), process.queue()
    local middle = process.spawn(function(pids, block)
      local process = require "process"
      local pool = process.pool(1)
      local f = pool:submit(function(pids, block)
        local me = require("process").current()
        pids:put(me.pid)
        pids:put(me.ppid)
        return block:get()
      end, pids, block)
      return f:result()
    end, pids, block)
    worker, its_server = pids:get(30), pids:get(30)
    assert(worker and its_server and its_server ~= middle.pid)
    assert(middle:kill(9))
    local ok, err = pcall(middle.join, middle)
    assert(not ok and err:find("SIGKILL"), err)
  )")));
  for (const char* name : {"worker", "its_server"}) {
    const pid_t pid = static_cast<pid_t>(integer(name));
    ASSERT_GT(pid, 0) << name;
    EXPECT_TRUE(gone(pid)) << name << " " << pid << " outlived its parent";
  }
}

TEST_F(ForkServerTest, StartMethodsAreCheckedByName) {
  EXPECT_TRUE(Ok(run(R"(
    local function fails(pattern, f, ...)
      local ok, err = pcall(f, ...)
      assert(not ok and err:find(pattern, 1, true), tostring(err))
    end
    fails("start method must be 'spawn' or 'forkserver', not 'fork'", process.set_start_method, "fork")
    fails("not a number", process.set_start_method, 1)
    fails("not 'x'", process.pool, {1, start = "x"})
    fails("process.pool: unknown option 'strat'", process.pool, {1, strat = "spawn"})
    fails("not 'x'", process.spawn, {script = "w.lua", start = "x"})
    process.set_start_method("spawn")
    assert(process.get_start_method() == "spawn")
    local pool = process.pool{n = 1}
    assert(pool:submit(whose):result() == process.current().pid)
    pool:close(); pool:join()
  )")));
}

TEST_F(ForkServerTest, TheDefaultComesFromTheEnvironment) {
  setenv("GILRUN_START_METHOD", "spawn", 1);
  EXPECT_TRUE(Ok(run(R"(
    assert(process.get_start_method() == "spawn")
    assert(process.spawn(whose):join() == process.current().pid)
  )")));
  setenv("GILRUN_START_METHOD", "vfork", 1);
  const gilrun::RunResult r = run("process.spawn(whose)");
  unsetenv("GILRUN_START_METHOD");
  EXPECT_FALSE(r);
  EXPECT_TRUE(Contains(r.text(), "GILRUN_START_METHOD is 'vfork': it must be 'spawn' or 'forkserver'"));
}

// A gilrun binary whose fork server cannot start (here a wrapper that
// refuses the mode): every child is spawned instead, with the same results.
class ForkServerFallback : public gilrun_test::GuardedTest {};

TEST_F(ForkServerFallback, AServerThatCannotStartMeansSpawn) {
#ifdef GILRUN_BINARY
  const gilrun_test::TempDir dir("gilrun-fs");
  const std::string wrapper = dir.file("gilrun");
  {
    std::ofstream out(wrapper);
    out << "#!/bin/sh\ncase \"$1\" in --fork-server) exit 1;; esac\nexec " << GILRUN_BINARY
        << " \"$@\"\n";
  }
  ASSERT_EQ(chmod(wrapper.c_str(), 0755), 0);
  gilrun::Options o;
  o.worker_executable = wrapper;
  o.libraries = [](lua_State* L) { gilrun::preload_modules(L); };
  {
    gilrun::Interpreter interp(o);
    EXPECT_TRUE(Ok(interp.run_string(R"(
      local process = require "process"
      assert(process.get_start_method() == "forkserver")
      local me = process.current().pid
      local whose = function() return require("process").current().ppid end
      local pool = process.pool(2)
      local r = pool:map(function(x) return x + 1 end, {1, 2, 3})
      assert(r[1] == 2 and r[3] == 4)
      assert(pool:submit(whose):result() == me, "spawned by us")
      pool:close(); pool:join()
      assert(process.spawn(whose):join() == me)
    )", "@test.lua")));
    interp.close();
  }
  EXPECT_TRUE(zombies_of(getpid()).empty());  // the server that failed was reaped
#else
  GTEST_SKIP() << "needs the gilrun binary";
#endif
}

}  // namespace
