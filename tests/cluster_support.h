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
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.h"

namespace gilrun::test {

class GilrunProcess {
 public:
  // Starts the gilrun binary with `args`, its working directory
  // tests/data/cluster.
  explicit GilrunProcess(const std::vector<std::string>& args);
  ~GilrunProcess();  // kills (SIGKILL) and reaps it if it still runs

  pid_t pid() const { return pid_; }
  // wait_for() reads until `text` appeared on stdout (or stderr, with
  // `err`) after the first `from` bytes; false after `seconds`.
  bool wait_for(const std::string& text, bool err = false, double seconds = 30, size_t from = 0);
  void signal(int sig);
  // wait() waits for the exit: its status, 128 + signal if a signal ended
  // it, -1 if it did not end in time (then it is killed).
  int wait(double seconds = 30);
  std::string out() const;
  std::string err() const;
  std::string describe() const { return "--- stdout ---\n" + out() + "\n--- stderr ---\n" + err(); }

 private:
  // A reader thread drains both pipes (a worker's log must never fill one).
  void read_all(int out_fd, int err_fd);

  pid_t pid_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_, err_;
  bool closed_ = false;
  std::thread reader_;
  int status_ = -1;
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
