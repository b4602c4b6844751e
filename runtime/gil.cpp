/*
 * gil.cpp — the global interpreter lock.
 *
 * Notes about the implementation
 * ------------------------------
 * This is CPython 3's "new GIL" (Python/ceval_gil.c, Antoine Pitrou, 2009),
 * transplanted onto Lua.
 *
 * - The GIL is a flag (`locked_`) guarded by a mutex, plus a condition
 *   variable (`cond_`) that a dropping thread signals. A thread that wants the
 *   GIL while it is taken waits on `cond_` for at most one switch interval
 *   (5 ms by default, `gil.switchinterval()`).
 *
 * - If that wait times out, the GIL is still taken and `switch_number_` did
 *   not move (nobody else got it meanwhile), the waiter sets the holder's
 *   `drop_request` and asks the holder's EvalBreaker to stop the VM. The
 *   holder notices at its next VM instruction (see eval_breaker.cpp: a hook
 *   armed from a signal, never installed permanently), drops the GIL and
 *   takes it again. A holder that runs no Lua at all (a long C function) is
 *   never interrupted: blocking bindings release the GIL instead.
 *
 * - Forced switching: a thread that dropped the GIL *because it was asked
 *   to* waits on `switch_cond_` until some other thread has taken it.
 *   Without this, on a multicore machine the dropping thread usually takes
 *   the GIL straight back before the woken waiter is even scheduled (the
 *   "futile wakeup" of CPython 2, bpo-7946), and the waiter starves.
 *
 * - `switch_number_` counts holder changes. A waiter compares it before and
 *   after its timed wait so that it does not ask a thread that only just got
 *   the GIL to drop it again.
 *
 * - Voluntary drops (blocking I/O, sleep, join) are plain: release and
 *   signal one waiter. This is what makes the convoy effect (bpo-7946): an
 *   I/O thread that drops the GIL for every tiny read then waits a whole
 *   interval to get it back from a CPU-bound thread.
 *
 * - Statistics are updated with the mutex held, which take/drop hold anyway,
 *   so they cost no extra synchronisation.
 *
 * - At shutdown the final holder calls finalize(); take() then blocks forever,
 *   as CPython's take_gil() does for daemon threads after finalisation.
 */
#include "gil.h"

#include "thread_state.h"

namespace gilrun {

Gil::Gil(std::chrono::nanoseconds switch_interval)
    : interval_ns_(switch_interval.count()) {}

std::chrono::nanoseconds Gil::switch_interval() const {
  return std::chrono::nanoseconds(interval_ns_.load(std::memory_order_relaxed));
}

void Gil::set_switch_interval(std::chrono::nanoseconds interval) {
  if (interval.count() < 1) interval = std::chrono::nanoseconds(1);
  interval_ns_.store(interval.count(), std::memory_order_relaxed);
}

void Gil::take(ThreadState& ts) {
  std::unique_lock<std::mutex> lock(mutex_);
  take_locked(ts, lock);
}

void Gil::take_locked(ThreadState& ts, std::unique_lock<std::mutex>& lock) {
  auto blocked = [&] { return locked_ || (finalizing_ && &ts != finalizer_); };
  if (blocked()) {
    const Clock::time_point wait_start = Clock::now();
    ++waiting_;
    while (blocked()) {
      if (finalizing_ && &ts != finalizer_) {
        // The interpreter is gone: park this thread for good (see notes).
        cond_.wait(lock, [] { return false; });
      }
      const uint64_t saved_switch_number = switch_number_;
      const bool timed_out =
          cond_.wait_for(lock, switch_interval()) == std::cv_status::timeout;
      if (timed_out && locked_ && !finalizing_ &&
          switch_number_ == saved_switch_number) {
        holder_->drop_request.store(true, std::memory_order_relaxed);
        holder_->breaker.request_break();
        ++totals_.drop_requests;
        ++ts.counters.drop_requests;
      }
    }
    --waiting_;
    const Clock::duration waited = Clock::now() - wait_start;
    totals_.wait_time += waited;
    ts.counters.wait_time += waited;
    if (waited > ts.counters.longest_wait) ts.counters.longest_wait = waited;
    if (waited > totals_.longest_wait) totals_.longest_wait = waited;
  }
  locked_ = true;
  if (holder_ != &ts) {
    holder_ = &ts;
    ++switch_number_;
    ++totals_.switches;
    ++ts.counters.switches;
  }
  ++totals_.acquisitions;
  ++ts.counters.acquisitions;
  taken_at_ = Clock::now();
  // A request aimed at this thread's previous tenure is stale now.
  ts.drop_request.store(false, std::memory_order_relaxed);
  switch_cond_.notify_all();
}

void Gil::drop_locked(ThreadState& ts, bool exiting) {
  const Clock::duration held = Clock::now() - taken_at_;
  totals_.hold_time += held;
  ts.counters.hold_time += held;
  locked_ = false;
  if (exiting) holder_ = nullptr;  // its address may be reused by a new thread
  cond_.notify_one();
}

void Gil::drop(ThreadState& ts, bool exiting) {
  std::lock_guard<std::mutex> lock(mutex_);
  drop_locked(ts, exiting);
}

bool Gil::yield_if_requested(ThreadState& ts) {
  if (!ts.drop_request.load(std::memory_order_relaxed)) return false;
  std::unique_lock<std::mutex> lock(mutex_);
  ts.drop_request.store(false, std::memory_order_relaxed);
  drop_locked(ts, false);
  ++totals_.forced_drops;
  ++ts.counters.forced_drops;
  // Forced switching: do not race the waiter we were asked to make room for.
  const uint64_t saved_switch_number = switch_number_;
  switch_cond_.wait(lock, [&] {
    return switch_number_ != saved_switch_number || waiting_ == 0;
  });
  take_locked(ts, lock);
  return true;
}

void Gil::finalize(ThreadState& ts) {
  std::lock_guard<std::mutex> lock(mutex_);
  finalizing_ = true;
  finalizer_ = &ts;
}

GilCounters Gil::totals() const {
  std::lock_guard<std::mutex> lock(mutex_);
  GilCounters result = totals_;
  if (locked_) result.hold_time += Clock::now() - taken_at_;
  return result;
}

GilCounters Gil::counters(const ThreadState& ts) const {
  std::lock_guard<std::mutex> lock(mutex_);
  GilCounters result = ts.counters;
  if (locked_ && holder_ == &ts) result.hold_time += Clock::now() - taken_at_;
  return result;
}

int Gil::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_;
}

bool Gil::locked() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return locked_;
}

}  // namespace gilrun
