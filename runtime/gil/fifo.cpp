/*
 * fifo.cpp — the `fifo` policy: Ruby's GVL (thread_pthread.c).
 *
 * Waiters line up in arrival order. Whoever releases the GIL while someone
 * waits does not free it: it hands it directly to the longest waiter, so no
 * thread can barge in and nobody starves. The waiter at the head of the line
 * lets the holder run for one time quantum (`--switch-interval`, Ruby uses
 * 100 ms) and then asks it to drop; the holder hands over and joins the back
 * of the line. Fair, at the price of a hand-off (two context switches) every
 * quantum and whenever a thread blocks.
 */
#include "gil/policies.h"

#include "thread_state.h"

namespace gilrun {

void FifoGil::wait_turn(ThreadState& ts, Lock& lock) {
  wait_for_grant(ts, lock, waiters_, [&]() REQUIRES(mutex_) {
    const uint64_t saved_switch_number = switch_number_;
    const bool timed_out =
        ts.gil_turn.wait_for(lock.native(), switch_interval()) == std::cv_status::timeout;
    if (timed_out && waiters_.front() == &ts) {
      ask_if_unchanged(ts, saved_switch_number);  // the holder's quantum is over
    }
  });
}

void FifoGil::release(ThreadState& ts, bool forced) {
  if (waiters_.empty()) {
    locked_ = false;
  } else {
    waiters_.hand_to_front();  // stays locked: it belongs to the waiter now
  }
}

bool FifoGil::yield_locked(ThreadState& ts, Lock& lock) {
  if (!take_drop_request(ts)) return false;
  drop_locked(ts, /*forced=*/true, /*exiting=*/false);
  take_locked(ts, lock);  // to the back of the line
  return true;
}

}  // namespace gilrun
