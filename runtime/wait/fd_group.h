// fd_group.h — waiting on several descriptors at once. This file is private
// to the runtime.
//
// wait_fd() watches one descriptor; a process.run (stdout, stderr, stdin,
// the child's pidfd) or a process pool (one socket per worker) needs several.
// An epoll instance is itself a descriptor that is readable when any of its
// members is ready, so FdGroup waits on it with wait_fd() — the GIL is
// released and Ctrl-C and green threads behave as for any single descriptor —
// then asks epoll which members are ready, without blocking.
#pragma once

#include <cstdint>
#include <vector>

#include "wait/io_wait.h"

namespace gilrun {

class FdGroup {
 public:
  FdGroup();
  ~FdGroup();
  FdGroup(const FdGroup&) = delete;
  FdGroup& operator=(const FdGroup&) = delete;

  bool valid() const { return epoll_fd_ >= 0; }
  // add() watches fd for `events` (EPOLLIN / EPOLLOUT), reported with `tag`.
  bool add(int fd, uint32_t events, uint64_t tag);
  void remove(int fd);
  // wait() blocks until a member is ready (or deadline / Ctrl-C) and fills
  // *ready with the tags of the ready members (empty on a spurious wake-up).
  // `spin` is wait_fd()'s: how long to stay awake first.
  WaitStatus wait(ThreadState& ts, const Deadline& deadline, std::vector<uint64_t>* ready,
                  Clock::duration spin = {});
  // ready_now() fills *ready without waiting.
  void ready_now(std::vector<uint64_t>* ready);

 private:
  int epoll_fd_;
};

}  // namespace gilrun
