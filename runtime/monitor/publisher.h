// publisher.h — a process's GIL counters, published for `gilrun top` in a
// shared-memory file. This file is private to the runtime; page.h has the
// layout and the lock rules.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "monitor/page.h"

namespace gilrun::monitor {

// runtime_dir() is where pages live: $XDG_RUNTIME_DIR when it is a
// directory, else /dev/shm, else /tmp.
std::string runtime_dir();
// remove_stale_pages() deletes the pages in `dir` of processes that are gone
// (this user's: the directory is sticky).
void remove_stale_pages(const std::string& dir);

// Publisher owns one page file: created mode 0600 (owner only), mapped
// shared, removed by the destructor (or unlink_file(), for os.exit).
class Publisher {
 public:
  // create() makes the file and fills the header; null if it cannot (the
  // runtime then runs unpublished). `policy`, `interval_ns` and the tick
  // calibration go in the header.
  static std::unique_ptr<Publisher> create(const char* policy, uint64_t interval_ns,
                                           uint64_t created_ticks, uint64_t created_ns);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  Page& page() { return *page_; }
  const std::string& path() const { return path_; }
  // unlink_file() removes the file now; the mapping stays valid.
  void unlink_file();
  // close() tells monitors the interpreter is gone and removes the file.
  void close();

  // slot() is the slot of thread `id` named `name`, claiming a free one on
  // first use (null when all are taken). Gil mutex held.
  ThreadSlot* claim_slot(uint64_t id, const std::string& name);
  // release_slot() marks a slot exited; it may be reused. Gil mutex held.
  void release_slot(ThreadSlot* slot, uint64_t now_ticks);

 private:
  Publisher(std::string path, Page* page) : path_(std::move(path)), page_(page) {}
  std::string path_;
  Page* page_;
  bool unlinked_ = false;
  int next_unused_ = 0;  // slots below this have been used
};

// process_start_time() is field 22 of /proc/PID/stat (0 if unreadable): with
// the pid, it tells a live process from a later one that reused its pid.
uint64_t process_start_time(int pid);

}  // namespace gilrun::monitor
