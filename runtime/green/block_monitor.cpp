// block_monitor.cpp — see block_monitor.h.
#include "green/block_monitor.h"

#include <algorithm>
#include <cstdio>

#include "green/hub.h"

namespace gilrun {

std::string default_green_block_message(const GreenBlockReport& r) {
  using ms = std::chrono::duration<double, std::milli>;
  char head[200];
  std::snprintf(head, sizeof head,
                "gilrun: green thread #%llu has run for %.0f ms without yielding (limit %.0f "
                "ms); it blocks every other green thread of its OS thread:\n",
                static_cast<unsigned long long>(r.green_id), ms(r.ran).count(),
                ms(r.limit).count());
  return head + r.traceback;
}

BlockMonitor::BlockMonitor(std::chrono::nanoseconds limit,
                           std::function<void(const GreenBlockReport&)> sink)
    : limit_(limit), sink_(std::move(sink)), thread_([this] { run(); }) {}

void BlockMonitor::report(const GreenBlockReport& report) const { sink_(report); }

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
