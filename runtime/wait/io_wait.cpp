#include "wait/io_wait.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "green/hub.h"
#include "thread_state.h"

namespace gilrun {
namespace {

// Ctrl-C sets a flag and unparks; it cannot wake poll(). The thread wakes
// this often to look at the flag, which costs nothing measurable.
constexpr auto kInterruptCheck = std::chrono::milliseconds(100);

int slice_ms(const Deadline& deadline) {
  auto slice = std::chrono::duration_cast<std::chrono::milliseconds>(kInterruptCheck);
  if (deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
    slice = std::clamp(left, std::chrono::milliseconds(0), slice);
  }
  return static_cast<int>(slice.count());
}

}  // namespace

WaitStatus wait_fd(ThreadState& ts, int fd, short events, const Deadline& deadline) {
  if (Hub::active(ts)) return Hub::of(ts).wait_fd(fd, events, deadline);
  return wait_fd_blocking(ts, fd, events, deadline);
}

WaitStatus poll_ready(ThreadState& ts, int fd, short events, const Deadline& deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    const int n = poll(&p, 1, slice_ms(deadline));
    if (n > 0) return WaitStatus::ready;
    if (n < 0 && errno != EINTR) return WaitStatus::ready;  // the caller's I/O call reports it
    if (ts.interrupt_pending.load(std::memory_order_relaxed)) return WaitStatus::interrupted;
    if (deadline && Clock::now() >= *deadline) return WaitStatus::timed_out;
  }
}

bool in_green_context(ThreadState& ts) { return Hub::active(ts); }

WaitStatus wait_fd_blocking(ThreadState& ts, int fd, short events, const Deadline& deadline) {
  if (ts.take_interrupt()) return WaitStatus::interrupted;
  WaitStatus status = WaitStatus::ready;
  with_gil_released(ts, [&] { status = poll_ready(ts, fd, events, deadline); });
  if (status == WaitStatus::interrupted) ts.take_interrupt();
  return status;
}

}  // namespace gilrun
