/*
 * interval.cpp — the `interval` policy: CPython >= 3.2.
 *
 * A waiter waits for one switch interval at a time. If the wait timed out,
 * the GIL is still taken and `switch_number_` did not move (nobody else got
 * it meanwhile), it sets a drop request on the holder. Waiters queue in
 * arrival order and only one of them keeps that time (gil.h,
 * wait_in_line()); a release wakes the longest waiter.
 *
 * Forced switching: a holder that dropped the GIL *because it was asked to*
 * waits on `switch_cond_` until another thread has taken it. Without this, on
 * a multicore machine the dropping thread usually takes the GIL straight back
 * before the woken waiter is even scheduled (see ticks.cpp), and the
 * waiter starves. `--force-switching=off` turns it off to show exactly that.
 */
#include "gil/policies.h"

#include "thread_state.h"

namespace gilrun {

void IntervalGil::wait_turn(ThreadState& ts, Lock& lock) {
  wait_in_line(ts, lock, [&]() REQUIRES(mutex_) { return free_for(ts); });
}

void IntervalGil::release(ThreadState& ts, bool forced) {
  locked_ = false;
  wake_waiter();
}

bool IntervalGil::yield_locked(ThreadState& ts, Lock& lock) {
  if (!take_drop_request(ts)) return false;
  drop_locked(ts, /*forced=*/true, /*exiting=*/false);
  if (settings().force_switching) wait_for_switch(lock);
  take_locked(ts, lock);
  return true;
}

}  // namespace gilrun
