/*
 * gil_interval.cpp — the `interval` policy: CPython >= 3.2.
 *
 * A waiter waits on `cond_` for one switch interval at a time. If the wait
 * timed out, the GIL is still taken and `switch_number_` did not move (nobody
 * else got it meanwhile), it sets a drop request on the holder.
 *
 * Forced switching: a holder that dropped the GIL *because it was asked to*
 * waits on `switch_cond_` until another thread has taken it. Without this, on
 * a multicore machine the dropping thread usually takes the GIL straight back
 * before the woken waiter is even scheduled (see gil_ticks.cpp), and the
 * waiter starves. `--force-switching=off` turns it off to show exactly that.
 */
#include "gil_policies.h"

#include "thread_state.h"

namespace gilrun {

void IntervalGil::wait_turn(ThreadState& ts, Lock& lock) {
  while (!free_for(ts)) {
    if (parked_forever(ts)) park_forever(lock);
    const uint64_t saved_switch_number = switch_number_;
    const bool timed_out = cond_.wait_for(lock, switch_interval()) == std::cv_status::timeout;
    if (timed_out) {
      if (locked_ && !finalizing_ && switch_number_ == saved_switch_number) request_drop(ts);
    } else if (locked_) {
      count_futile_wakeup(ts);
    }
  }
}

void IntervalGil::release(ThreadState& ts, bool forced) {
  locked_ = false;
  cond_.notify_one();
}

bool IntervalGil::yield_locked(ThreadState& ts, Lock& lock) {
  if (!ts.drop_request.load(std::memory_order_relaxed)) return false;
  ts.drop_request.store(false, std::memory_order_relaxed);
  drop_locked(ts, /*forced=*/true, /*exiting=*/false);
  if (settings().force_switching) {
    const uint64_t saved_switch_number = switch_number_;
    switch_cond_.wait(lock, [&] { return switch_number_ != saved_switch_number || waiting_ == 0; });
  }
  take_locked(ts, lock);
  return true;
}

}  // namespace gilrun
