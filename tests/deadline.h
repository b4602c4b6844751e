// deadline.h — TestDeadline: a liveness test that hangs fails with a message
// instead of sitting until ctest's timeout kills it without one.
//
//   TestDeadline deadline(std::chrono::seconds(20), "the spinners to stop");
//
// starts a watchdog; if the object still exists after the limit (the test is
// stuck joining a thread, waiting for a process, ...), the watchdog prints
//
//   [  FAILED  ] Suite.Test: did not finish within 20 s (waiting for the
//   spinners to stop); the process exits
//
// to stderr and ends the process with status 1: a hung thread cannot be
// unwound, and ctest then shows that message instead of "Timeout". The
// limits are generous (the sanitizer builds run ~10x slower), so passing
// tests never see them; nothing is timed but the hang. The Lua fixture
// (lua_fixture.h), GuardedTest (guarded_test.h: tests that make their own
// interpreters) and the policy tests hold one per test; the threaded GIL
// units (gil_test.cpp) one each, naming what they wait for.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace gilrun_test {

// Below ctest's per-test TIMEOUT (120 s, tests/CMakeLists.txt), so that the
// message comes first.
constexpr std::chrono::seconds kDefaultTestDeadline{100};

class TestDeadline {
 public:
  explicit TestDeadline(std::chrono::milliseconds limit = kDefaultTestDeadline,
                        std::string waiting_for = "")
      : watchdog_([this, limit, what = std::move(waiting_for), name = current_test_name()] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (done_cv_.wait_for(lock, limit, [this] { return done_; })) return;
          std::fprintf(stderr, "\n[  FAILED  ] %s: did not finish within %g s%s%s%s; the process exits\n",
                       name.c_str(), std::chrono::duration<double>(limit).count(),
                       what.empty() ? "" : " (waiting for ", what.c_str(), what.empty() ? "" : ")");
          std::fflush(stderr);
          std::_Exit(1);
        }) {}
  ~TestDeadline() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_one();
    watchdog_.join();
  }
  TestDeadline(const TestDeadline&) = delete;
  TestDeadline& operator=(const TestDeadline&) = delete;

 private:
  static std::string current_test_name() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return info ? std::string(info->test_suite_name()) + "." + info->name() : "(no test)";
  }
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread watchdog_;  // last: starts once the members it uses exist
};

}  // namespace gilrun_test
