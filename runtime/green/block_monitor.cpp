// block_monitor.cpp — see block_monitor.h.
#include "green/block_monitor.h"

#include <algorithm>

#include "green/hub.h"

namespace gilrun {

BlockMonitor::BlockMonitor(std::chrono::nanoseconds limit)
    : limit_(limit), thread_([this] { run(); }) {}

BlockMonitor::~BlockMonitor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_cond_.notify_all();
  thread_.join();
}

void BlockMonitor::watch(Hub* hub) {
  std::lock_guard<std::mutex> lock(mutex_);
  hubs_[hub] = 0;
}

void BlockMonitor::unwatch(Hub* hub) {
  std::lock_guard<std::mutex> lock(mutex_);
  hubs_.erase(hub);
}

void BlockMonitor::run() {
  const auto period = std::max<std::chrono::nanoseconds>(limit_ / 2, std::chrono::milliseconds(1));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_cond_.wait_for(lock, period, [this] { return stopping_; })) {
    const auto now = Clock::now().time_since_epoch().count();
    for (auto& [hub, reported] : hubs_) {
      const int64_t since = hub->green_since.load(std::memory_order_relaxed);
      const uint64_t seq = hub->switch_seq.load(std::memory_order_relaxed);
      if (since == 0 || now - since < limit_.count() || reported == seq) continue;
      reported = seq;  // once per switch-in
      hub->request_block_report();  // the hub is alive: unwatch() needs our mutex
    }
  }
}

}  // namespace gilrun
