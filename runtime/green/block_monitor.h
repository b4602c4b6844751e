// block_monitor.h — BlockMonitor: reporting green threads that run too long
// without yielding (Options::green_block_warn), like gevent's monitor thread.
// This file is private to the runtime.
//
// A green thread that computes without blocking starves every other green
// thread of its hub. The monitor is one plain OS thread per interpreter
// (only when Options::green_block_warn is set) that wakes every half limit
// and looks at each hub's two atomics: when the running green thread was
// switched in, and a switch counter. A green thread seen running for longer
// than the limit is reported once per switch-in: the monitor asks its hub
// (Hub::request_block_report) to report it, and the report — message and
// Lua traceback — is made on the hub's own thread from the eval breaker's
// hook, the only place the running lua_State may be read. The report goes to
// the sink the Core gives: Options::on_green_block (the command line words
// it after its flag), else Options::report (report.h) with the text of
// default_green_block_message().
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "gilrun/gilrun.h"

namespace gilrun {

class Hub;

class BlockMonitor {
 public:
  BlockMonitor(std::chrono::nanoseconds limit,
               std::function<void(const GreenBlockReport&)> sink);
  ~BlockMonitor();
  BlockMonitor(const BlockMonitor&) = delete;
  BlockMonitor& operator=(const BlockMonitor&) = delete;

  std::chrono::nanoseconds limit() const { return limit_; }
  // report() hands a report to the sink (never empty). On the hub's thread.
  void report(const GreenBlockReport& report) const;
  // watch()/unwatch(): a hub's life, from its own thread.
  void watch(Hub* hub);
  void unwatch(Hub* hub);

 private:
  void run();

  const std::chrono::nanoseconds limit_;
  const std::function<void(const GreenBlockReport&)> sink_;
  std::mutex mutex_;
  std::condition_variable stop_cond_;
  bool stopping_ = false;
  std::map<Hub*, uint64_t> hubs_;  // hub -> switch count last reported
  std::thread thread_;
};

}  // namespace gilrun
