// cluster_support.h — what the cluster tests share: a gilrun process
// (a worker or a client script) whose output a test reads as it comes,
// and the fixture that gives each test its own redis-server.
//
// Tests synchronise on output lines ("ready", a result) and on Redis keys,
// never on sleeps; every wait has a limit after which the test fails.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "child_run.h"
#include "redis_server.h"

namespace gilrun::test {

// GilrunProcess is the gilrun binary with `args` (child_run.h), its working
// directory tests/data/cluster; its output is read as it comes (a worker's
// log never fills a pipe). Every wait ends within 90 s of its start
// (kClusterChildLimit), after which the process is killed and the test fails.
class GilrunProcess {
 public:
  explicit GilrunProcess(const std::vector<std::string>& args);
  // ~GilrunProcess kills (SIGKILL) and reaps it if it still runs.

  pid_t pid() const { return child_.pid(); }
  // wait_for() reads until `text` appeared on stdout (or stderr, with
  // `err`); false if the stream ended first.
  bool wait_for(const std::string& text, bool err = false);
  void signal(int sig) { child_.signal(sig); }
  // wait() waits for the exit: its status, 128 + signal if a signal ended
  // it, -1 if it did not end in time (then it is killed).
  int wait();
  std::string out() const { return child_.so_far().out; }
  std::string err() const { return child_.so_far().err; }
  std::string describe() const { return "--- stdout ---\n" + out() + "\n--- stderr ---\n" + err(); }

 private:
  gilrun_test::Child child_;
};

// The fixture: a fresh redis-server per test (skipped without one).
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;
  std::string url() const { return redis_.url(); }
  // worker() starts `gilrun worker` on this server with tasks.lua and
  // extra flags, and waits until it is ready.
  std::unique_ptr<GilrunProcess> worker(const std::vector<std::string>& flags = {});
  // stop() is a warm shutdown of worker `w` and the wait for its end.
  void stop(GilrunProcess& w);
  // client() runs a Lua script from tests/data/cluster with the broker URL
  // as its first argument (and `args`), and waits for its end.
  std::unique_ptr<GilrunProcess> client(const std::string& script, const std::vector<std::string>& args = {});
  RedisServer redis_;
};

}  // namespace gilrun::test
