// lua_fixture.h — LuaTest: a fresh interpreter per test, with the gilrun
// modules required as globals (thread, sync, queue, time, gil), a way to run
// a chunk, and read-back of globals the chunk set. TearDown waits as a
// script's end does (threads, green threads), then checks that the test left
// nothing behind (as marl's tests do): every thread but main has finished
// and every green thread's stack is back in the pool; once the interpreter
// has closed, LeakCheck (leak_check.h) checks child processes, zombies and
// open hubs against their baseline. A fixture deriving LuaTest that defines
// its own TearDown calls LuaTest::TearDown(). A test that hangs fails with a
// message after kDefaultTestDeadline (deadline.h).
//
// Scripts check their own invariants with assert(); the C++ side checks the
// RunResult with EXPECT_TRUE(Ok(run(...))), which prints the Lua error and
// traceback on failure. Chunks are named "@test.lua", so messages read
// "test.lua:LINE: ...", with line 1 the first line of the raw string.
#pragma once

#include <gilrun/gilrun.h>
#include <gilrun/modules.h>
#include <gtest/gtest.h>

#include <lua.hpp>

#include <chrono>
#include <cstddef>
#include <string>

#include "deadline.h"
#include "green/fiber.h"
#include "leak_check.h"

namespace gilrun_test {

// Short, so that tests whose outcome needs preemption finish quickly.
constexpr std::chrono::milliseconds kTestInterval{1};

inline ::testing::AssertionResult Ok(const gilrun::RunResult& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "status " << r.status << ": " << r.message << "\n"
                                       << r.traceback;
}

inline ::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << part << "\" not found in:\n" << text;
}

// RaisedWithTraceback() checks an error that crossed a join: raised at
// `raised` ("test.lua:2: boom"), with a traceback that names `frame` (the
// thread's function, "in function <test.lua:2>").
inline ::testing::AssertionResult RaisedWithTraceback(const std::string& message,
                                                      const std::string& raised,
                                                      const std::string& frame) {
  for (const std::string& part : {raised, std::string("stack traceback"), frame}) {
    if (::testing::AssertionResult found = Contains(message, part); !found) return found;
  }
  return ::testing::AssertionSuccess();
}

// What a test must leave of a running interpreter, which LeakCheck (run after
// the close) cannot see: as at a script's end, non-daemon threads and green
// threads finish; then every thread but main has ended and every green
// thread's stack is back in the pool (stacks_before: Fiber::stacks_in_use()
// taken before the interpreter existed). LuaTest's TearDown calls it, and so
// do the fixtures that build their own Interpreter.
inline void expect_threads_finished(gilrun::Interpreter& interp, std::size_t stacks_before) {
  EXPECT_TRUE(Ok(interp.wait_for_threads()));
  const gilrun::Stats stats = interp.stats();
  for (const auto& [id, t] : stats.threads) {
    EXPECT_TRUE(id == 1 || !t.alive) << "thread '" << t.name << "' (#" << id
                                     << ") is still running after the test";
  }
  EXPECT_EQ(gilrun::Fiber::stacks_in_use(), stacks_before)
      << "green threads are still parked after the test";
}

class LuaTest : public ::testing::Test {
 protected:
  LuaTest() : interp_(options()) {
    gilrun::preload_modules(interp_);
    for (const char* name : {"thread", "sync", "queue", "time", "gil"}) {
      const gilrun::RunResult r = interp_.require_module(name);
      EXPECT_TRUE(Ok(r)) << "require " << name;
    }
  }

  void TearDown() override {
    if (HasFatalFailure()) return;  // an ASSERT already failed: the rest is noise
    expect_threads_finished(interp_, stacks_before_);
  }

  static gilrun::Options options() {
    gilrun::Options o;
    o.switch_interval = kTestInterval;
#ifdef GILRUN_BINARY
    o.worker_executable = GILRUN_BINARY;  // process children: the test binary is not gilrun
#endif
    return o;
  }

  gilrun::RunResult run(const std::string& code) { return interp_.run_string(code, "@test.lua"); }

  // read() returns convert(L) with global `name` on the top of L's stack.
  template <class F>
  auto read(const char* name, F convert) {
    decltype(convert(nullptr)) value{};
    interp_.with_lua([&](lua_State* L) {
      lua_getglobal(L, name);
      value = convert(L);
      lua_pop(L, 1);
    });
    return value;
  }

  lua_Integer integer(const char* name) {
    return read(name, [](lua_State* L) { return lua_tointeger(L, -1); });
  }
  bool is_nil(const char* name) {
    return read(name, [](lua_State* L) { return lua_isnil(L, -1); });
  }
  std::string string(const char* name) {
    return read(name, [](lua_State* L) {
      const char* s = lua_tostring(L, -1);
      return std::string(s ? s : "(not a string)");
    });
  }

  // First, so it is destroyed last: a hang anywhere in the test, its
  // TearDown or the interpreter's close fails with a message.
  TestDeadline deadline_;
  // Before the interpreter: its baseline comes first, its check after the close.
  LeakCheck leaks_;
  gilrun::Interpreter interp_;
  const std::size_t stacks_before_ = gilrun::Fiber::stacks_in_use();
};

}  // namespace gilrun_test
