/*
 * gil_priority.cpp — the `priority` policy: a fix for the convoy effect.
 *
 * bpo-7946 (Beazley, 2010): under the interval GIL a thread that does a tiny
 * blocking I/O call drops the GIL, and getting it back from a CPU-bound
 * thread costs a whole switch interval, so I/O throughput collapses when a
 * CPU-bound thread runs. Beazley's patch gave I/O threads priority; Nir
 * Aides' BFS patch scheduled by recent CPU use. The rule chosen here:
 *
 *   A thread whose last drop was voluntary (it blocked: sleep, I/O, join,
 *   queue wait) is I/O-bound. An I/O-bound waiter does not wait an interval:
 *   it asks a CPU-bound holder to drop at once, and whoever releases the GIL
 *   hands it directly to the longest-waiting I/O-bound thread. CPU-bound
 *   waiters (whose last drop was forced) behave exactly as under `interval`
 *   and only get the GIL when no I/O-bound thread wants it.
 *
 * An I/O thread holds the GIL briefly and blocks again, so the CPU thread
 * loses little; the I/O thread no longer waits behind it.
 */
#include "gil_policies.h"

#include "thread_state.h"

namespace gilrun {

void PriorityGil::wait_turn(ThreadState& ts, Lock& lock) {
  if (!ts.io_bound) {  // CPU-bound: the interval rule, behind any I/O waiter
    while (!free_for(ts) || !io_waiters_.empty()) wait_one_interval(ts, lock);
    return;
  }
  io_waiters_.push(ts);
  if (locked_ && holder_ != nullptr && !holder_->io_bound && !finalizing_ &&
      !io_waiters_.granting()) {
    request_drop(ts);  // preempt the CPU-bound holder now
  }
  while (!io_waiters_.take_grant(ts)) {
    if (free_for(ts) && io_waiters_.front() == &ts) {
      io_waiters_.remove(ts);
      return;
    }
    if (parked_forever(ts)) park_forever(lock);
    ts.gil_turn.wait_for(lock, switch_interval());
  }
}

void PriorityGil::release(ThreadState& ts, bool forced) {
  if (!io_waiters_.empty()) {
    io_waiters_.hand_to_front();
    return;
  }
  locked_ = false;
  cond_.notify_one();
}

bool PriorityGil::yield_locked(ThreadState& ts, Lock& lock) {
  if (!take_drop_request(ts)) return false;
  drop_locked(ts, /*forced=*/true, /*exiting=*/false);
  wait_for_switch(lock);
  take_locked(ts, lock);
  return true;
}

}  // namespace gilrun
