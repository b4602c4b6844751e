// wait_line.h — WaitLine, the line of waiters that keep CPython's timed
// rule (interval, and priority's CPU-bound threads). This file is private to
// the runtime; gil.cpp's wait_in_line() is its one user.
#pragma once

#include <deque>

namespace gilrun {

struct ThreadState;

// WaitLine: waiters in arrival order, and which one of them keeps time.
//
// A release wakes the front waiter only (on its own condition variable), so
// with thousands queued each one is woken about once, and a waiter cannot be
// passed over for good: everyone ahead of it leaves the line with the GIL.
// One waiter, the timekeeper, runs a timed wait and asks the holder to drop;
// the others sleep untimed. When the timekeeper leaves, the duty passes to
// the newest waiter, which will stay longest, so the duty moves (a wake-up)
// about once per draining of the line rather than once per hand-off. When
// the front leaves (it took the GIL), the next waiter is woken at once to
// wait awake for that holder's release (gil.h, wait_in_line()).
class WaitLine {
 public:
  bool empty() const { return line_.empty(); }
  ThreadState* front() const { return line_.empty() ? nullptr : line_.front(); }
  bool keeps_time(const ThreadState& ts) const { return timekeeper_ == &ts; }
  // join() puts `ts` at the back; the first waiter of a line without a
  // timekeeper becomes it.
  void join(ThreadState& ts);
  // ToWake is who leave() wants woken: each null or distinct.
  struct ToWake {
    ThreadState* timekeeper = nullptr;  // took the duty over from the leaver
    ThreadState* front = nullptr;       // became the front: the leaver was it
  };
  // leave() takes `ts` out of the line and says whom to wake.
  ToWake leave(ThreadState& ts);

 private:
  std::deque<ThreadState*> line_;
  ThreadState* timekeeper_ = nullptr;
};

}  // namespace gilrun
