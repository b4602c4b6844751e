// fd_group.cpp — see fd_group.h.
#include "wait/fd_group.h"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

namespace gilrun {

FdGroup::FdGroup() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {}

FdGroup::~FdGroup() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

bool FdGroup::add(int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void FdGroup::remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void FdGroup::ready_now(std::vector<uint64_t>* ready) {
  ready->clear();
  epoll_event events[16];
  int n;
  while ((n = epoll_wait(epoll_fd_, events, 16, 0)) < 0 && errno == EINTR) {}
  for (int i = 0; i < n; ++i) ready->push_back(events[i].data.u64);
}

WaitStatus FdGroup::wait(ThreadState& ts, const Deadline& deadline, std::vector<uint64_t>* ready,
                         Clock::duration spin) {
  ready_now(ready);
  if (!ready->empty()) return WaitStatus::ready;
  const WaitStatus status = wait_fd(ts, epoll_fd_, POLLIN, deadline, spin);
  if (status == WaitStatus::ready) ready_now(ready);
  return status;
}

}  // namespace gilrun
