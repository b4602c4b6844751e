// embedding_test.cpp — the runtime as a third-party host sees it: only the
// public headers <gilrun/gilrun.h> and <gilrun/modules.h> (plus Lua's own
// C API, which a host function needs anyway).
#include <gilrun/gilrun.h>
#include <gilrun/modules.h>
#include <gtest/gtest.h>

#include <lua.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "guarded_test.h"
#include "report_sink.h"

namespace {

using namespace std::chrono_literals;
using gilrun_test::report_arrived;
using gilrun_test::reports_received;

::testing::AssertionResult Ok(const gilrun::RunResult& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.message << "\n" << r.traceback;
}

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << part << "\" not found in:\n" << text;
}

// Every test: a deadline and a leak check around it (guarded_test.h).
class Embedding : public gilrun_test::GuardedTest {};

gilrun::Options with_interval(std::chrono::nanoseconds interval) {
  gilrun::Options options;
  options.switch_interval = interval;
  return options;
}

// A host that blocks inside a C function. host_block() waits, GIL released,
// until a host std::thread says so; that thread waits until a Lua thread has
// called host_signal(). Host functions cannot capture, hence the global.
struct Rendezvous {
  std::promise<void> lua_thread_ran;
  std::promise<void> release;
};
Rendezvous* rendezvous = nullptr;

int host_block(lua_State* L) {
  {
    gilrun::GilReleased unlocked(L);  // touch no Lua state in here
    rendezvous->release.get_future().wait();
  }
  lua_pushstring(L, "released");
  return 1;
}

int host_signal(lua_State* L) {
  rendezvous->lua_thread_ran.set_value();
  return 0;
}

TEST_F(Embedding, VersionNamesGilrunAndLua) {
  const std::string v = gilrun::version();
  EXPECT_EQ(v.rfind("gilrun ", 0), 0u) << v;
  EXPECT_TRUE(Contains(v, "Lua 5.4"));
}

TEST_F(Embedding, HostFunctionReleasingTheGilLetsALuaThreadRun) {
  // No preemption within the test: the Lua thread can only run while the
  // main thread sits in host_block() with the GIL released.
  gilrun::Interpreter interp(with_interval(1h));
  gilrun::preload_modules(interp);
  Rendezvous r;
  rendezvous = &r;
  interp.register_function("host_block", host_block);
  interp.register_function("host_signal", host_signal);
  std::thread host([&r] {
    r.lua_thread_ran.get_future().wait();
    r.release.set_value();
  });
  const gilrun::RunResult result = interp.run_string(R"(
    local thread = require "thread"
    local h = thread.spawn(function()
      ran_while_blocked = true
      host_signal()
    end)
    assert(host_block() == "released")
    assert(ran_while_blocked)
    h:join()
  )");
  host.join();
  rendezvous = nullptr;
  EXPECT_TRUE(Ok(result));
}

TEST_F(Embedding, GilReleasedOutsideAnInterpreterThreadThrows) {
  std::thread foreign([] { EXPECT_THROW(gilrun::GilReleased g(nullptr), std::logic_error); });
  foreign.join();
}

// OtherInterpreter is an interpreter living on a thread of its own (an OS
// thread is one interpreter's main thread at a time), alive until destroyed:
// its state is what a call given "another interpreter's state" gets.
class OtherInterpreter {
 public:
  OtherInterpreter()
      : owner_([this] {
          gilrun::Interpreter other;
          state_.set_value(other.lua());
          done_.get_future().wait();
        }),
        lua_(state_.get_future().get()) {}
  ~OtherInterpreter() {
    done_.set_value();
    owner_.join();
  }
  lua_State* lua() const { return lua_; }

 private:
  std::promise<lua_State*> state_;
  std::promise<void> done_;
  std::thread owner_;
  lua_State* lua_;
};

// GilReleased(L) ignored L: given another interpreter's state it dropped
// the caller's GIL all the same.
TEST_F(Embedding, GilReleasedWithAnotherInterpretersStateThrows) {
  gilrun::Interpreter mine;
  OtherInterpreter other;
  lua_State* other_state = other.lua();
  bool threw = false;
  const gilrun::RunResult r = mine.with_lua([&](lua_State* L) {
    try {
      gilrun::GilReleased g(other_state);
    } catch (const std::logic_error&) {
      threw = true;
    }
    gilrun::GilReleased fine(L);  // its own state: released and taken back
  });
  EXPECT_TRUE(Ok(r));
  EXPECT_TRUE(threw);
}

// wait_readable(L, fd) ignored L the same way: given another interpreter's
// state it waited with the caller's GIL released all the same.
TEST_F(Embedding, WaitReadableWithAnotherInterpretersStateThrows) {
  gilrun::Interpreter mine;
  OtherInterpreter other;
  lua_State* other_state = other.lua();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "x", 1), 1);  // readable: the good call returns at once
  bool threw = false;
  bool readable = false;
  const gilrun::RunResult r = mine.with_lua([&](lua_State* L) {
    try {
      gilrun::wait_readable(other_state, fds[0]);
    } catch (const std::logic_error&) {
      threw = true;
    }
    readable = gilrun::wait_readable(L, fds[0]);  // its own state: waits
  });
  close(fds[0]);
  close(fds[1]);
  EXPECT_TRUE(Ok(r));
  EXPECT_TRUE(threw);
  EXPECT_TRUE(readable);
}

// A Lua error inside the host's function used to escape unprotected:
// "PANIC: unprotected error in call to Lua API" and abort().
TEST_F(Embedding, AnErrorInsideWithLuaIsReturnedNotAPanic) {
  gilrun::Interpreter interp;
  const gilrun::RunResult r = interp.with_lua([](lua_State* L) {
    lua_pushinteger(L, 1);
    luaL_checktype(L, 1, LUA_TTABLE);  // raises
    lua_pushboolean(L, 1);
    lua_setglobal(L, "after_the_error");
  });
  EXPECT_FALSE(r);
  EXPECT_NE(r.message.find("table expected"), std::string::npos) << r.message;
  EXPECT_TRUE(Ok(interp.run_string("assert(after_the_error == nil); ok = true")));
}

TEST_F(Embedding, WithLuaGivesTheMainStateToTheHost) {
  gilrun::Interpreter interp;
  interp.with_lua([](lua_State* L) {
    lua_pushinteger(L, 41);
    lua_setglobal(L, "from_host");
  });
  EXPECT_TRUE(Ok(interp.run_string("answer = from_host + 1")));
  lua_Integer answer = 0;
  interp.with_lua([&](lua_State* L) {
    lua_getglobal(L, "answer");
    answer = lua_tointeger(L, -1);
    lua_pop(L, 1);
  });
  EXPECT_EQ(answer, 42);
}

TEST_F(Embedding, RunStringSuccessIsOkWithNoMessage) {
  gilrun::Interpreter interp;
  const gilrun::RunResult r = interp.run_string("local x = 1 + 1");
  EXPECT_EQ(r.status, gilrun::RunResult::ok);
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_TRUE(r.message.empty());
  EXPECT_TRUE(r.traceback.empty());
}

TEST_F(Embedding, RunStringRuntimeErrorHasFileLineAndTraceback) {
  gilrun::Interpreter interp;
  const gilrun::RunResult r = interp.run_string("local t = nil\nlocal y = t.x\n", "@host.lua");
  EXPECT_EQ(r.status, gilrun::RunResult::error);
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.message.rfind("host.lua:2: attempt to index a nil value", 0), 0u) << r.message;
  EXPECT_EQ(r.traceback.rfind("stack traceback:", 0), 0u) << r.traceback;
  EXPECT_TRUE(Contains(r.traceback, "host.lua:2:"));
}

TEST_F(Embedding, RunStringErrorWithATableValueSaysSo) {
  gilrun::Interpreter interp;
  const gilrun::RunResult r = interp.run_string("error({})");
  EXPECT_EQ(r.status, gilrun::RunResult::error);
  EXPECT_EQ(r.message, "(error object is a table value)");
}

TEST_F(Embedding, SyntaxErrorReportsItsLine) {
  gilrun::Interpreter interp;
  const gilrun::RunResult r = interp.run_string("local a = 1\n\nlocal = 2\n", "@bad.lua");
  EXPECT_EQ(r.status, gilrun::RunResult::syntax_error);
  EXPECT_TRUE(Contains(r.message, "bad.lua:3:"));
  EXPECT_TRUE(r.traceback.empty());
}

// A script file in the test's temporary directory, removed afterwards.
class ScriptFile {
 public:
  ScriptFile(const std::string& name, const std::string& text)
      : path_(::testing::TempDir() + "gilrun_embedding_" + name) {
    std::ofstream(path_) << text;
  }
  ~ScriptFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_F(Embedding, RunFileRunsAScriptWithItsArguments) {
  ScriptFile script("args.lua", "local a, b = ...\nassert(a == 'x' and b == 'y')\n"
                                "assert(arg[0]:find('args.lua', 1, true) and arg[1] == 'x')\n");
  gilrun::Interpreter interp;
  interp.set_args({"host", script.path(), "x", "y"}, 1);
  EXPECT_TRUE(Ok(interp.run_file(script.path())));
}

TEST_F(Embedding, RunFileReportsRuntimeAndSyntaxErrorsWithThePath) {
  ScriptFile failing("fails.lua", "local x = 1\n\nerror('failed here')\n");
  ScriptFile broken("broken.lua", "x = = 1\n");
  gilrun::Interpreter interp;

  const gilrun::RunResult r = interp.run_file(failing.path());
  EXPECT_EQ(r.status, gilrun::RunResult::error);
  EXPECT_TRUE(Contains(r.message, failing.path() + ":3: failed here"));
  EXPECT_TRUE(Contains(r.traceback, "stack traceback:"));

  const gilrun::RunResult s = interp.run_file(broken.path());
  EXPECT_EQ(s.status, gilrun::RunResult::syntax_error);
  EXPECT_TRUE(Contains(s.message, broken.path() + ":1:"));
}

TEST_F(Embedding, RunFileOfAMissingFileIsAnError) {
  gilrun::Interpreter interp;
  const gilrun::RunResult r = interp.run_file(::testing::TempDir() + "gilrun_no_such_file.lua");
  EXPECT_EQ(r.status, gilrun::RunResult::error);
  EXPECT_TRUE(Contains(r.message, "cannot open"));
}

// Two CPU-bound Lua threads handing the GIL back and forth (each step needs
// a forced drop), then the host reads the statistics.
TEST_F(Embedding, StatsAfterATwoThreadRunAddUp) {
  gilrun::Interpreter interp(with_interval(1ms));
  gilrun::preload_modules(interp);
  ASSERT_TRUE(Ok(interp.run_string(R"(
    local thread = require "thread"
    local h = thread.spawn{function()
      ready = true
      while not go do end
      done = true
    end, name = "worker"}
    while not ready do end
    go = true
    while not done do end
    h:join()
  )")));
  const gilrun::Stats s = interp.stats();
  ASSERT_EQ(s.threads.size(), 2u);
  const gilrun::ThreadStats& main = s.threads.at(1);
  const gilrun::ThreadStats& worker = s.threads.at(2);
  EXPECT_EQ(main.name, "main");
  EXPECT_TRUE(main.alive);
  EXPECT_EQ(worker.name, "worker");
  EXPECT_FALSE(worker.alive);
  EXPECT_GE(main.forced_drops, 1u);
  EXPECT_GE(worker.forced_drops, 1u);
  EXPECT_GE(s.switches, 3u);
  EXPECT_LE(s.forced_drops, s.drop_requests);  // every forced drop was requested
  EXPECT_GT(s.elapsed, 0);
  EXPECT_GT(main.hold_time, 0);
  EXPECT_GT(worker.wait_time, 0);
  EXPECT_EQ(s.switch_interval, 1ms);
  // The lock-wide counters are the sums of the per-thread ones.
  EXPECT_EQ(s.acquisitions, main.acquisitions + worker.acquisitions);
  EXPECT_EQ(s.switches, main.switches + worker.switches);
  EXPECT_EQ(s.drop_requests, main.drop_requests + worker.drop_requests);
  EXPECT_EQ(s.forced_drops, main.forced_drops + worker.forced_drops);
  EXPECT_EQ(s.awake_takes, main.awake_takes + worker.awake_takes);
}

TEST_F(Embedding, SetSwitchIntervalIsSeenByStatsAndScripts) {
  gilrun::Interpreter interp;
  gilrun::preload_modules(interp);
  EXPECT_EQ(interp.stats().switch_interval, 5ms);  // the default
  interp.set_switch_interval(2ms);
  EXPECT_EQ(interp.stats().switch_interval, 2ms);
  EXPECT_TRUE(Ok(interp.run_string(
      "local gil = require 'gil'\n"
      "assert(math.abs(gil.switchinterval() - 0.002) < 1e-9, gil.switchinterval())")));
}

// The daemon thread spins on the CPU forever; close() must take the GIL from
// it, park it for good and close the VM. The parked OS thread (and the
// runtime's core it references) stay behind until the process exits.
TEST_F(Embedding, CloseWithARunningDaemonThreadReturns) {
  auto interp = std::make_unique<gilrun::Interpreter>(with_interval(1ms));
  gilrun::preload_modules(*interp);
  ASSERT_TRUE(Ok(interp->run_string(R"(
    local thread, sync = require "thread", require "sync"
    local running = sync.event()
    local h = thread.spawn{function() running:set() while true do end end, daemon = true}
    running:wait()
    assert(h:alive())
  )")));
  EXPECT_EQ(interp->stats().threads.at(2).alive, true);
  interp->close();
  interp->close();  // a second close is a no-op
  interp.reset();   // and so is the destructor after close
}

TEST_F(Embedding, WaitForThreadsReturnsOnceNonDaemonThreadsFinished) {
  gilrun::Interpreter interp(with_interval(1ms));
  gilrun::preload_modules(interp);
  ASSERT_TRUE(Ok(interp.run_string(R"(
    local thread, sync = require "thread", require "sync"
    finished = {}
    local started = sync.event()
    thread.spawn(function()
      started:set()
      for i = 1, 1000 do finished[#finished + 1] = i end
    end)
    started:wait()
  )")));
  // The thread may still be filling the table when run_string returns.
  ASSERT_TRUE(Ok(interp.wait_for_threads()));
  lua_Integer n = 0;
  interp.with_lua([&](lua_State* L) {
    lua_getglobal(L, "finished");
    n = static_cast<lua_Integer>(lua_rawlen(L, -1));
    lua_pop(L, 1);
  });
  EXPECT_EQ(n, 1000);
  EXPECT_FALSE(interp.stats().threads.at(2).alive);
}

// StderrCapture points fd 2 at a temporary file for its scope; text() is
// what was written there.
class StderrCapture {
 public:
  StderrCapture() : file_(std::tmpfile()), saved_(dup(STDERR_FILENO)) {
    std::fflush(stderr);
    dup2(fileno(file_), STDERR_FILENO);
  }
  ~StderrCapture() {
    restore();
    std::fclose(file_);
  }
  std::string text() {
    restore();
    std::string out;
    std::rewind(file_);
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file_)) > 0;) out.append(buffer, n);
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_;
};

// A host's Options::report takes the runtime's reports: a failure nobody
// asked about (a thread nobody joined, a done callback that raised) arrives
// there, once, with its traceback, and nothing is written to stderr.
void expect_one_report_of(const char* script, const std::string& head, const std::string& error) {
  std::vector<std::string> reports;
  StderrCapture err;
  {
    gilrun::Options o;
    o.publish_gil = false;
    o.report = [&](std::string_view text) { reports.emplace_back(text); };
    gilrun::Interpreter interp(o);
    gilrun::preload_modules(interp);
    ASSERT_TRUE(Ok(interp.run_string(script, "@host.lua")));
    ASSERT_TRUE(Ok(interp.wait_for_threads()));
    interp.close();
  }
  EXPECT_EQ(err.text(), "");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].rfind(head, 0), 0u) << reports[0];
  EXPECT_TRUE(Contains(reports[0], error + "\nstack traceback:\n"));
  EXPECT_NE(reports[0].back(), '\n');  // one text, no trailing newline
}

TEST_F(Embedding, AHostsReportSinkTakesAnUnjoinedThreadsFailure) {
  expect_one_report_of(R"(local thread = require "thread"
    thread.spawn{function() error("worker exploded") end, name = "worker"})",
                       "gilrun: thread 'worker' (#2) failed and was never joined:\n",
                       "host.lua:2: worker exploded");
}

TEST_F(Embedding, AHostsReportSinkTakesAnUnjoinedGreenThreadsFailure) {
  expect_one_report_of(R"(local green = require "green"
    green.spawn(function() error("green exploded") end))",
                       "gilrun: green thread #", "host.lua:2: green exploded");
}

TEST_F(Embedding, AHostsReportSinkTakesAFailedFutureDoneCallback) {
  expect_one_report_of(R"(local futures = require "futures"
    local f = futures.future()
    f:add_done_callback(function() error("callback exploded") end)
    f:set_result(1))",
                       "gilrun: futures: a done callback failed: ",
                       "host.lua:3: callback exploded");
}

// Without Options::on_green_block, green_block_warn's reports go to the
// report sink, worded by default_green_block_message().
TEST_F(Embedding, AHostsReportSinkTakesGreenBlockReportsWithoutOnGreenBlock) {
  reports_received = 0;
  std::string got;
  StderrCapture err;
  {
    gilrun::Options o;
    o.publish_gil = false;
    o.green_block_warn = 5ms;
    o.report = [&](std::string_view text) {
      if (reports_received++ == 0) got = text;
    };
    gilrun::Interpreter interp(o);
    gilrun::preload_modules(interp);
    interp.register_function("reported", report_arrived);
    ASSERT_TRUE(Ok(interp.run_string(R"(local green = require "green"
      -- bounded (CPU seconds) so that a report that never comes fails the
      -- count below instead of hanging the test; it comes after ~5 ms
      local function spin()
        local t0 = os.clock()
        while not reported() and os.clock() - t0 < 30 do end
      end
      green.spawn(spin):join())",
                                     "@block.lua")));
  }
  EXPECT_EQ(err.text(), "");
  EXPECT_EQ(reports_received.load(), 1) << got;
  EXPECT_TRUE(Contains(got, "gilrun: green thread #"));
  EXPECT_TRUE(Contains(got, "without yielding (limit 5 ms)"));
  EXPECT_TRUE(Contains(got, "stack traceback:\n"));
  EXPECT_TRUE(Contains(got, "in function <block.lua:4>"));
}

}  // namespace
