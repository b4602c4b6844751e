// parker.h — Parker: the one place an OS thread sleeps. This file is private
// to the runtime.
//
// Parker is a binary permit, like Java's LockSupport: unpark() grants it,
// park() consumes it or sleeps until it is granted or the deadline passes.
// A permit granted before park() is not lost, so a waker never needs to know
// whether the sleeper has gone to sleep yet.
//
// park() may first spin for a short budget, watching the permit without
// sleeping: a hand-off that comes back within microseconds (a pool worker's
// next task, a result) then costs neither the sleeper's futex wait nor the
// waker's futex wake, which on these VMs is 10-30 us per wake-up — more than
// the whole round trip it serves. unpark() enters the kernel only when the
// sleeper really sleeps.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "wait/clock.h"

namespace gilrun {

// spin_wait() polls `ready()` without sleeping for up to `budget` (never
// past `deadline`), pausing the CPU between polls and yielding it now and
// then so that a thread queued behind this one on the same CPU still runs.
// Returns ready().
template <class Ready>
bool spin_wait(Clock::duration budget, const Deadline& deadline, Ready&& ready);

class Parker {
 public:
  // park() returns true if it consumed a permit, false on time-out. It
  // spins for up to `spin` before it sleeps.
  bool park(const Deadline& deadline, Clock::duration spin = {});
  void unpark();

 private:
  std::atomic<bool> permit_{false};
  std::atomic<bool> sleeping_{false};  // set under mutex_ by a park() about to wait
  std::mutex mutex_;
  std::condition_variable cond_;
};

void cpu_relax();
void yield_cpu();

template <class Ready>
bool spin_wait(Clock::duration budget, const Deadline& deadline, Ready&& ready) {
  if (ready()) return true;
  if (budget <= Clock::duration::zero()) return false;
  Clock::time_point until = Clock::now() + budget;
  if (deadline && *deadline < until) until = *deadline;
  for (unsigned round = 1;; ++round) {
    for (int i = 0; i < 64; ++i) {
      cpu_relax();
      if (ready()) return true;
    }
    if (round % 8 == 0) yield_cpu();
    if (ready()) return true;
    if (Clock::now() >= until) return false;
  }
}

}  // namespace gilrun
