/*
 * ticks.cpp — the `ticks` policy: CPython 2's check interval.
 *
 * While anyone waits, the holder runs with a count hook that fires every
 * `check_interval` VM instructions ("ticks", 100 by default). Each time, it
 * releases the GIL, signals one waiter, and immediately takes it back —
 * there is no hand-off. On one core that works, because the woken waiter
 * gets scheduled; on several cores the releasing thread is still running and
 * nearly always wins the race, so the waiter wakes up, finds the GIL taken
 * again (a *futile wakeup*) and goes back to sleep. Dave Beazley's "Inside
 * the Python GIL" (2009) measured what this does to two CPU-bound threads.
 *
 * The count hook is armed only while another thread waits: the first waiter
 * switches the holder into periodic mode, and the holder switches it off
 * again at a tick that finds nobody waiting, so a lone thread pays nothing.
 * A waiter that sees no tick for a whole switch interval asks again, as
 * `interval`'s waiters do: a break can be lost, and with nobody asking
 * again the holder would run on alone forever. Only one waiter keeps that
 * time (the timekeeper; it passes the job on when it leaves): 10,000
 * sleeping threads waking every interval took 10x longer to drain.
 *
 * Attribution (runtime/blame/, gil.cpp's notes) charges a holder the time
 * from the first drop request of its tenure to its forced drop. Here the
 * periodic hook is the request, standing for as long as anyone waits, and
 * ticks drop without a request_drop() each time: so the clock starts when a
 * waiter arrives or a tenure begins with waiters (note_asked), and every
 * tick ends a stretch of it. The holders table used to be empty, or a third
 * of the waiting (two spinning threads: 30 ms held vs 96 ms waited).
 * Reading the stack at each of tens of thousands of ticks a second would cost
 * more than the run, so a tick's stretch is carried (HandOver::carried) until
 * kAttributeEvery has gathered or the thread really lost the GIL, and then
 * charged to where the thread is: a sampling profiler's rule, by time. A C
 * function that keeps the GIL gets no ticks at all; the timekeeper's re-ask
 * after a silent interval is then a one-shot break, which (unlike the
 * periodic count hook) also stops the holder as the C function returns, so
 * its whole stretch goes to the line that called it.
 */
#include "gil/policies.h"

#include <utility>

#include "thread_state.h"

namespace gilrun {
namespace {
// How much waiting a holder gathers over its ticks before it is attributed.
constexpr Clock::duration kAttributeEvery = std::chrono::milliseconds(1);
}  // namespace

void TicksGil::wait_turn(ThreadState& ts, Lock& lock) {
  // The asks here are written by hand, not with ask_if_unchanged(): under
  // ticks the holder drops and takes the GIL back at every tick without the
  // holder changing, so switch_number_ does not tell a ticking holder from
  // a stuck one; the tick count does (ticks_). There is no hand-off to wait
  // for either. The first ask is the switch to periodic mode, with a
  // request_drop() only to wake a holder that was not in it yet.
  if (locked_ && holder_ != nullptr && !finalizing_) {
    note_asked(*holder_);  // the periodic hook asks for us from now on
    if (holder_->breaker.set_periodic(settings().check_interval) == 0) {
      request_drop(ts);  // wakes the holder into periodic mode
    }
  }
  while (!free_for(ts)) {
    if (parked_forever(ts)) park_forever(lock);
    if (timekeeper_ == nullptr) timekeeper_ = &ts;
    const uint64_t ticks_before = ticks_;
    if (timekeeper_ != &ts) {
      cond_.wait(lock.native());
    } else if (cond_.wait_for(lock.native(), switch_interval()) == std::cv_status::timeout) {
      // A whole interval without a tick: the holder runs a C function, or
      // the break that should have put it into periodic mode was lost
      // (eval_breaker.cpp). Ask again, one-shot: that also stops it at the
      // C function's return; it goes back to periodic mode in on_taken().
      if (locked_ && !finalizing_ && ticks_ == ticks_before) {
        holder_->breaker.set_periodic(0);
        request_drop(ts);
      }
      continue;
    }
    if (locked_) count_futile_wakeup(ts);
  }
  if (timekeeper_ == &ts) {
    timekeeper_ = nullptr;
    cond_.notify_one();  // someone else keeps time now
  }
}

void TicksGil::release(ThreadState& ts, bool forced) {
  locked_ = false;
  cond_.notify_one();
}

bool TicksGil::yield_locked(ThreadState& ts, Lock& lock) {
  // Not take_drop_request(): the periodic hook ticks whether or not a
  // request is pending, and a tick services any that is, so it is cleared
  // unconditionally.
  ts.drop_request.store(false, std::memory_order_relaxed);
  if (waiting_ == 0) {
    ts.breaker.set_periodic(0);  // nobody waits: back to full speed
    ts.hand_over.requested_at = Clock::time_point{};
    return false;
  }
  ++ticks_;
  drop_locked(ts, /*forced=*/true, /*exiting=*/false);
  // "Other threads may run now" (CPython 2's ceval.c): the lock is really
  // released, but nothing waits for a waiter to take it.
  mutex_.unlock();  // behind `lock`'s back, and taken again before it is used
  mutex_.lock();
  take_locked(ts, lock);  // no hand-off: usually wins straight back
  // This tick's stretch of making others wait, attributed in samples (see
  // the notes): Gil::yield_if_requested() attributes a non-zero made_wait.
  HandOver& h = ts.hand_over;
  h.carried += std::exchange(h.made_wait, Clock::duration{});
  if (h.carried >= kAttributeEvery || h.waited.count() != 0) {
    h.made_wait = std::exchange(h.carried, Clock::duration{});
  }
  return true;
}

void TicksGil::on_taken(ThreadState& ts) {
  if (waiting_ > 0) {
    note_asked(ts);  // a tenure that begins with waiters is asked from its start
    if (ts.breaker.set_periodic(settings().check_interval) == 0) ts.breaker.arm_now();
  }
}

}  // namespace gilrun
