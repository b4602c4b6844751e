// gil.h — the global interpreter lock and its policies. This file is private
// to the runtime.
//
// Gil serialises every OS thread's access to the one shared lua_State. The
// base class keeps what every policy shares (the lock word, the holder, the
// switch counter, the statistics and the trace); each policy is a small
// subclass that decides how a thread waits and how the lock changes hands:
//
//   interval  interval.cpp       CPython >= 3.2 (timed drop request, forced switching)
//   ticks     ticks.cpp          CPython 2 (release and re-take every N instructions)
//   fifo      fifo.cpp           Ruby's GVL (arrival order, direct hand-off)
//   priority  priority.cpp       the bpo-7946 convoy fix (I/O threads first)
//
// gil.cpp explains the common algorithm. Callers pass their ThreadState so
// the lock can ask the holder to drop it (via its EvalBreaker).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "gil/thread_annotations.h"
#include "gil/wait_line.h"
#include "gilrun/gilrun.h"
#include "wait/clock.h"

namespace gilrun {

struct ThreadState;
namespace monitor {
class Publisher;
struct ThreadSlot;
}  // namespace monitor

// WaitHistogram buckets GIL wait times on a log scale (4 buckets per
// doubling, from 1 us), enough for p50/p99 within ~20%.
class WaitHistogram {
 public:
  void add(Clock::duration wait);
  void merge(const WaitHistogram& other);
  // percentile() in seconds, q in [0, 1]; 0 if empty.
  double percentile(double q) const;
  uint64_t count() const { return count_; }

 private:
  static constexpr int kBuckets = 4 * 40;
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
};

// GilCounters holds the counters one thread (or the whole lock) accumulates.
// Written only with the Gil's mutex held.
struct GilCounters {
  uint64_t acquisitions = 0;     // times the GIL was taken
  uint64_t switches = 0;         // takes where the holder changed
  uint64_t drop_requests = 0;    // waits that asked the holder to drop
  uint64_t forced_drops = 0;     // drops made because of a drop request
  uint64_t voluntary_drops = 0;  // drops to block (sleep, I/O, join...)
  uint64_t futile_wakeups = 0;   // a waiter woke and found the GIL taken again
  uint64_t awake_takes = 0;      // waits that caught the release awake (wait_in_line())
  Clock::duration wait_time{};     // time spent wanting the GIL
  Clock::duration hold_time{};     // time spent holding it (filled in by Gil::totals/counters)
  uint64_t hold_ticks = 0;         // inside the Gil: hold time in TSC ticks
  Clock::duration longest_wait{};  // the single longest wait
  WaitHistogram waits;             // every wait, for percentiles

  // merge() adds `other`'s counts into these (the longest wait is the
  // longer of the two).
  void merge(const GilCounters& other);
};

// HandOver is what the lock notes for attribution (runtime/blame/) about one
// thread's last hand-over: when a drop was first asked of it in its current
// tenure, how long it then kept the GIL, how long it waited for it. Written
// with the Gil's mutex held; made_wait/waited are consumed by the thread
// itself once it holds the GIL again (BlameSink).
struct HandOver {
  Clock::time_point requested_at{};  // zero: nobody asked this tenure
  Clock::duration made_wait{};       // request to forced drop
  Clock::duration waited{};          // its own last wait for the GIL
  Clock::duration carried{};         // ticks: made_wait not yet attributed (ticks.cpp)
  bool pending() const { return made_wait.count() != 0 || waited.count() != 0; }
};

// BlameSink is told, on the thread's own OS thread with the GIL held, that
// `ts` waited or made others wait (ts.hand_over.pending()). It must clear
// ts.hand_over's durations.
class BlameSink {
 public:
  virtual ~BlameSink() = default;
  virtual void attribute(ThreadState& ts) = 0;
};

enum class GilPolicy { interval, ticks, fifo, priority, isolated };

// parse_policy() accepts "interval", "ticks", "fifo", "priority",
// "isolated"; returns false otherwise.
bool parse_policy(const std::string& name, GilPolicy* policy);
const char* policy_name(GilPolicy policy);

// GilSettings is the lock's part of Options; the defaults are Options'
// (gilrun.h), written once.
struct GilSettings {
  GilPolicy policy = GilPolicy::interval;
  std::chrono::nanoseconds switch_interval = Options().switch_interval;
  bool force_switching = Options().force_switching;  // interval: wait for the waiter after a forced drop
  int check_interval = Options().check_interval;     // ticks: VM instructions between checks
  // How long the front of the waiting line stays awake for the release
  // before it sleeps (wait_in_line()). Not an option; tests change it.
  std::chrono::nanoseconds front_spin = std::chrono::microseconds(100);
};

class Gil {
 public:
  // create() builds the lock for settings.policy (isolated VMs each use an
  // interval lock of their own).
  static std::unique_ptr<Gil> create(const GilSettings& settings);
  virtual ~Gil() = default;
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

  // take() blocks until `ts` holds the GIL. It must not already hold it.
  void take(ThreadState& ts);
  // drop() releases the GIL held by `ts` to block (sleep, I/O, join). A
  // thread that is about to exit passes `exiting` so the lock forgets it.
  void drop(ThreadState& ts, bool exiting = false);
  // yield_if_requested() is the eval breaker's entry: when another thread
  // wants the GIL, hand it over and take it back. Returns whether it did.
  bool yield_if_requested(ThreadState& ts);

  // finalize() is called by the thread that holds the GIL when the
  // interpreter shuts down: from then on take() never returns for any other
  // thread (like CPython parking daemon threads at exit), so a straggler can
  // never touch a VM that is being closed.
  void finalize(ThreadState& ts);

  const GilSettings& settings() const { return settings_; }
  std::chrono::nanoseconds switch_interval() const;
  void set_switch_interval(std::chrono::nanoseconds interval);
  // set_blame() turns on attribution by source line (before threads start).
  void set_blame(BlameSink* sink) { blame_ = sink; }
  // set_publisher() makes the lock mirror its counters into a monitor page
  // (runtime/monitor/, for `gilrun top`), before threads start.
  void set_publisher(monitor::Publisher* publisher);

  // totals() returns the lock-wide counters; counters(ts) one thread's.
  GilCounters totals() const;
  GilCounters counters(const ThreadState& ts) const;
  // load_time() is the seconds during which at least one thread waited.
  double load_time() const;
  int waiting() const;
  bool locked() const;
  // looks_locked() is locked() read without the mutex: a hint, stale by the
  // time it returns, for a woken waiter that stays awake until its waker
  // drops the GIL (wait_list.cpp) — polling locked() there contended with
  // that very drop for the mutex.
  bool looks_locked() const { return looks_locked_.load(std::memory_order_relaxed); }
  // finalizing() tells whether finalize() was called.
  bool finalizing() const;

 protected:
  explicit Gil(const GilSettings& settings);
  using Lock = AnnotatedLock;

  // --- What a policy decides (all called with mutex_ held) ---
  // wait_turn() returns once `ts` may become the holder: the GIL is free,
  // or was handed to it. Start/stop bookkeeping is done by the caller.
  virtual void wait_turn(ThreadState& ts, Lock& lock) REQUIRES(mutex_) = 0;
  // release() gives the GIL up: free it, or hand it to a chosen waiter.
  virtual void release(ThreadState& ts, bool forced) REQUIRES(mutex_) = 0;
  // yield_locked() services a break on the holder; returns whether it
  // dropped the GIL (and has it back).
  virtual bool yield_locked(ThreadState& ts, Lock& lock) REQUIRES(mutex_) = 0;
  // on_taken() runs after `ts` became the holder.
  virtual void on_taken(ThreadState& ts) REQUIRES(mutex_) {}
  // handing_off() is true while the GIL is on its way to a chosen waiter
  // (holder_ is then stale and must not be asked to drop).
  virtual bool handing_off() const REQUIRES(mutex_) { return false; }

  // --- Shared machinery for the policies ---
  bool free_for(const ThreadState& ts) const REQUIRES(mutex_) {
    return !locked_ && !(finalizing_ && &ts != finalizer_);
  }
  bool parked_forever(const ThreadState& ts) const REQUIRES(mutex_) {
    return finalizing_ && &ts != finalizer_;
  }
  void park_forever(Lock& lock) REQUIRES(mutex_);
  // request_drop() asks the current holder to drop (counted, traced).
  void request_drop(ThreadState& requester) REQUIRES(mutex_);
  // ask_if_unchanged() is the waiter's rule after a timed wait, the one
  // place it is written (interval, fifo, priority): if the GIL is still
  // held by the same tenure (switch_number_ is `seen`), is not on its way
  // to a chosen waiter and the interpreter is not finalizing, request_drop().
  // Returns whether it asked.
  bool ask_if_unchanged(ThreadState& requester, uint64_t seen) REQUIRES(mutex_);
  // note_asked() starts the attribution clock of `holder`'s tenure (its
  // hand_over.requested_at) unless it runs already; only with attribution on.
  void note_asked(ThreadState& holder) REQUIRES(mutex_);
  void count_futile_wakeup(ThreadState& ts) REQUIRES(mutex_);
  // take_drop_request() consumes the drop request aimed at `ts`, if any.
  static bool take_drop_request(ThreadState& ts);
  // wait_in_line() is CPython's waiter (interval; priority's CPU-bound
  // threads), quiet and fair with thousands of threads: it returns once
  // `ready()` (called with the mutex held) holds. The waiter queues in
  // line_ (wait_line.h): a release wakes only the front waiter, and only the
  // timekeeper runs a timed wait — when a whole switch interval passed
  // without the holder changing and the GIL is not being handed over, it
  // asks the holder to drop. With 10,000 threads queued at start-up, every
  // waiter waking each interval was 35% of the samples and 31% contention on
  // mutex_. An earlier single timekeeper woken only by its own timer, with
  // releases waking any other waiter, was passed over for good by two threads
  // handing the GIL to each other (Gil.TheFirstWaiterGetsTheGilBefore...).
  //
  // The front waiter stays awake for the release (spin_for_release) before
  // it sleeps, and is woken to do so as soon as it becomes the front (the
  // one ahead took the GIL: leave_line), so its wake-up overlaps the
  // holder's tenure. A line that drains through threads holding the GIL
  // ~11 us each (10,000 starting threads) otherwise paid a futex wake and
  // the woken thread's scheduling, ~59 us, per hand-off. Only the front
  // spins: on 2 cores more spinners would take the holder's CPU.
  template <class Ready>
  void wait_in_line(ThreadState& ts, Lock& lock, Ready&& ready) REQUIRES(mutex_) {
    if (ready()) return;
    line_.join(ts);
    LineTimer timer;
    for (;;) {
      arm_timer(ts, timer);  // before the spin: the interval counts from the wait's start
      if (line_.front() == &ts && spin_for_release(lock, timer)) {
        if (ready()) {
          count_awake_take(ts);
          break;
        }
        count_futile_wakeup(ts);  // it saw the release, and another thread took the GIL
      }
      wait_in_line_once(ts, lock, timer);
      if (ready()) break;
    }
    leave_line(ts);
  }
  // spin_for_release() waits awake, the mutex let go, up to
  // settings().front_spin (never past a running timer's deadline) for the
  // GIL to look free (looks_locked()). Returns with the mutex held and
  // whether it saw the GIL free. The budget covers a short tenure and the
  // drop that follows a drop request; a longer one is waited for asleep.
  struct LineTimer;
  bool spin_for_release(Lock& lock, const LineTimer& timer) REQUIRES(mutex_);
  void count_awake_take(ThreadState& ts) REQUIRES(mutex_);
  // wake_waiter() wakes the front of line_ after a release.
  void wake_waiter() REQUIRES(mutex_);
  // wait_for_switch() is forced switching: after a forced drop, wait until
  // another thread took the GIL (or nobody wants it any more).
  void wait_for_switch(Lock& lock) REQUIRES(mutex_);
  // spin_until() waits for `ready()` without sleeping: it lets go of the
  // mutex and yields the CPU (so a thread the kernel queued behind this one
  // still runs) until `ready()` holds or `budget` has passed. Returns
  // ready(). For hand-offs that are expected to come back within
  // microseconds, where a condition-variable sleep and wake costs tens.
  template <class Ready>
  bool spin_until(Lock& lock, Clock::duration budget, Ready&& ready) REQUIRES(mutex_) {
    const Clock::time_point until = Clock::now() + budget;
    while (!ready()) {
      if (Clock::now() >= until) return false;
      mutex_.unlock();  // behind `lock`'s back, and taken again before it is used
      yield_cpu();
      mutex_.lock();
    }
    return true;
  }
  static void yield_cpu();
  // take_locked()/drop_locked() do a whole take/drop with bookkeeping.
  void take_locked(ThreadState& ts, Lock& lock) REQUIRES(mutex_);
  void drop_locked(ThreadState& ts, bool forced, bool exiting) REQUIRES(mutex_);

  // LineTimer is a wait_in_line() waiter's clock while it keeps time: the
  // holder's tenure it is timing (switch_number_) and when to ask.
  struct LineTimer {
    bool keeping = false;
    uint64_t seen = 0;
    Clock::time_point deadline{};
  };
  // arm_timer() starts the timekeeper's clock on the holder's tenure,
  // unless it runs already for that tenure or `ts` does not keep time.
  void arm_timer(ThreadState& ts, LineTimer& timer) REQUIRES(mutex_);
  void wait_in_line_once(ThreadState& ts, Lock& lock, LineTimer& timer) REQUIRES(mutex_);
  void leave_line(ThreadState& ts) REQUIRES(mutex_);

  // The lock's state, as pycore_gil.h comments _gil_runtime_state. Every
  // field below marked GUARDED_BY is read and written only with mutex_ held.
  //
  // mutex_ guards the whole state; a thread holds it only while it changes
  // the state or sleeps on a condition variable, never while it runs Lua.
  mutable AnnotatedMutex mutex_;
  std::condition_variable cond_;         // ticks' waiters; park_forever()
  std::condition_variable switch_cond_;  // signalled when a waiter took it
  // locked_: a thread holds the GIL, or it is on its way to a waiter the
  // releasing policy chose (fifo, priority: it stays true through the
  // hand-off). Set by take_locked(); cleared by the policy's release()
  // (interval and ticks always; fifo and priority unless they hand it on).
  bool locked_ GUARDED_BY(mutex_) = false;
  // finalizing_/finalizer_: finalize() was called, by finalizer_, the one
  // thread that may still take the GIL; every other taker parks forever.
  // Written once, by finalize().
  bool finalizing_ GUARDED_BY(mutex_) = false;
  ThreadState* finalizer_ GUARDED_BY(mutex_) = nullptr;
  // holder_: the last (or current) holder; take_locked() writes it when the
  // holder changes, drop_locked() clears it when that thread exits (its
  // address may be reused). Stale while handing_off().
  ThreadState* holder_ GUARDED_BY(mutex_) = nullptr;
  // switch_number_: bumped by take_locked() every time the holder changes;
  // a waiter compares it across a timed wait (ask_if_unchanged()).
  uint64_t switch_number_ GUARDED_BY(mutex_) = 0;
  // waiting_: threads inside take_locked()'s wait; it counts them in and
  // out (and the GIL load clock with it). Read by the policies to know
  // whether anyone wants the GIL.
  int waiting_ GUARDED_BY(mutex_) = 0;
  WaitLine line_ GUARDED_BY(mutex_);  // wait_in_line()'s waiters

 private:
  // settings_: the policy's settings, fixed at creation (the switch
  // interval, which can change, lives in interval_ns_). No lock needed.
  const GilSettings settings_;
  // blame_/publisher_: the recorders the lock feeds, or null. Written once
  // by set_blame()/set_publisher() before any thread but the creator runs,
  // then only read; so no lock. (States are traced through each thread's
  // own ThreadState::trace.)
  BlameSink* blame_ = nullptr;
  monitor::Publisher* publisher_ = nullptr;
  // slot_of() is ts's slot in the monitor page (null: none). Mutex held.
  monitor::ThreadSlot* slot_of(ThreadState& ts) REQUIRES(mutex_);
  void publish_wait_start(ThreadState& ts, Clock::time_point wait_start) REQUIRES(mutex_);
  void publish_wait_end(ThreadState& ts) REQUIRES(mutex_);
  void publish_take(ThreadState& ts) REQUIRES(mutex_);
  void publish_drop(ThreadState& ts, bool forced, bool exiting, uint64_t now_ticks) REQUIRES(mutex_);
  // Hold times are taken on every take and drop, so they use the TSC (see
  // gil.cpp); ticks_to_time() converts at the rate the TSC ran since the
  // lock was created.
  Clock::duration ticks_to_time(uint64_t ticks) const;
  GilCounters with_hold_time(GilCounters counters, bool holding) const REQUIRES(mutex_);
  // created_/created_ticks_: when the lock was created, on the clock and
  // on the TSC, the base of ticks_to_time()'s rate. Written once, in the
  // constructor; no lock needed.
  const Clock::time_point created_ = Clock::now();
  const uint64_t created_ticks_;
  // taken_at_ticks_: the TSC when the current holder took the GIL, written
  // by take_locked(); drop_locked() adds the tenure to the hold times.
  uint64_t taken_at_ticks_ GUARDED_BY(mutex_) = 0;
  // load_since_/load_time_: the GIL load, the time during which at least
  // one thread waited. take_locked() starts load_since_ when waiting_ goes
  // 0 -> 1 and adds the span to load_time_ when it goes back to 0.
  Clock::time_point load_since_ GUARDED_BY(mutex_){};
  Clock::duration load_time_ GUARDED_BY(mutex_){};
  // totals_: the lock-wide counters, written by take_locked(),
  // drop_locked() and the counting helpers (request_drop(),
  // count_futile_wakeup(), count_awake_take()) beside each thread's own.
  GilCounters totals_ GUARDED_BY(mutex_);
  // interval_ns_: the switch interval, set by set_switch_interval() at any
  // time and read by waiters; an atomic so neither side needs mutex_.
  std::atomic<int64_t> interval_ns_;
  // looks_locked_: locked_ mirrored, written by take_locked() and
  // drop_locked() with mutex_ held, read without it (looks_locked()).
  std::atomic<bool> looks_locked_{false};
};

}  // namespace gilrun
