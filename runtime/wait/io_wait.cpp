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

WaitStatus wait_fd(ThreadState& ts, int fd, short events, const Deadline& deadline,
                   Clock::duration spin) {
  const bool green = Hub::active(ts);
  if (spin > Clock::duration::zero() && !(green && Hub::of(ts).others_ready())) {
    bool ready = false;
    with_gil_released(ts, [&] { ready = spin_until_ready(fd, events, spin, deadline); });
    if (ready) return WaitStatus::ready;
  }
  if (green) return Hub::of(ts).wait_fd(fd, events, deadline);
  return wait_fd_blocking(ts, fd, events, deadline);
}

bool spin_until_ready(int fd, short events, Clock::duration budget, const Deadline& deadline) {
  Clock::time_point until = Clock::now() + budget;
  if (deadline && *deadline < until) until = *deadline;
  pollfd p{fd, events, 0};
  for (unsigned polls = 1;; ++polls) {
    if (poll(&p, 1, 0) != 0) return true;  // ready, or an error for the caller's call to see
    if (Clock::now() >= until) return false;
    if (polls % 4 == 0) yield_cpu();
  }
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
