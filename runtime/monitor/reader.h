// reader.h — reading monitor pages, lock-free, from any process of the same
// user: the list of running gilrun processes, and samples of one. This file
// is private to the runtime (`gilrun top` is its client).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "monitor/page.h"

namespace gilrun::monitor {

struct PageFile {
  int pid = 0;
  int sequence = 0;  // several interpreters in one process: 0, 1, ...
  std::string path;
};

// list_pages() is every page of a live process this user can read, by pid.
// Pages of processes that are gone are removed (when they are ours) and
// left out.
std::vector<PageFile> list_pages();

struct ThreadSample {
  uint64_t id = 0;
  std::string name;
  SlotState state = SlotState::unused;
  double state_for = 0;  // seconds in `state`
  uint64_t acquisitions = 0, switches = 0, drop_requests = 0, forced_drops = 0,
           voluntary_drops = 0, futile_wakeups = 0;
  double wait_time = 0;  // seconds, including a wait in progress
  double hold_time = 0;  // seconds, including a tenure in progress
  double blocked_time = 0;  // seconds with the GIL dropped to block, including now
};

struct Sample {
  double at = 0;  // steady clock, seconds
  int pid = 0;
  std::string policy;
  double switch_interval = 0;
  bool locked = false;
  uint64_t holder_id = 0;
  double held_for = 0;  // the current tenure, seconds
  uint64_t waiting = 0;
  uint64_t acquisitions = 0, switches = 0, drop_requests = 0, forced_drops = 0,
           voluntary_drops = 0, futile_wakeups = 0;
  double wait_time = 0, hold_time = 0;
  double load_time = 0;  // seconds during which someone waited
  bool exited = false;
  uint64_t threads_hidden = 0;
  std::vector<ThreadSample> threads;  // slots in use, exited ones included
};

// PageView maps one page read-only.
class PageView {
 public:
  PageView() = default;
  ~PageView();
  PageView(const PageView&) = delete;
  PageView& operator=(const PageView&) = delete;
  // open() maps `path`; false with the reason in *error otherwise.
  bool open(const std::string& path, std::string* error);
  // sample() reads the page now.
  Sample sample() const;
  // target_gone() is true once the process has exited or closed the
  // interpreter.
  bool target_gone() const;

 private:
  const Page* page_ = nullptr;
  int pid_ = 0;
  uint64_t start_time_ = 0;
};

// process_alive() is whether `pid` is running and started at `start_time`
// (0: any start time).
bool process_alive(int pid, uint64_t start_time);

}  // namespace gilrun::monitor
