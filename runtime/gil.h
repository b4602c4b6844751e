// gil.h — the global interpreter lock. This file is private to the runtime.
//
// Gil serialises every OS thread's access to the one shared lua_State. The
// algorithm is CPython 3's (Python/ceval_gil.c): see the notes at the top of
// gil.cpp. Callers pass their ThreadState so the lock can ask the holder to
// drop it (via its EvalBreaker) and keep per-thread statistics.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace gilrun {

struct ThreadState;

using Clock = std::chrono::steady_clock;

// GilCounters holds the counters one thread (or the whole lock) accumulates.
// Written only with the Gil's mutex held.
struct GilCounters {
  uint64_t acquisitions = 0;   // times the GIL was taken
  uint64_t switches = 0;       // takes where the holder changed
  uint64_t drop_requests = 0;  // timed-out waits that asked the holder to drop
  uint64_t forced_drops = 0;   // drops made because of a drop request
  Clock::duration wait_time{};     // time spent wanting the GIL
  Clock::duration hold_time{};     // time spent holding it
  Clock::duration longest_wait{};  // the single longest wait
};

class Gil {
 public:
  explicit Gil(std::chrono::nanoseconds switch_interval);
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

  // take() blocks until `ts` holds the GIL. It must not already hold it.
  void take(ThreadState& ts);
  // drop() releases the GIL held by `ts` (a voluntary drop: blocking I/O).
  // A thread that is about to exit passes `exiting` so the lock forgets it.
  void drop(ThreadState& ts, bool exiting = false);
  // yield_if_requested() is the eval breaker's entry: if another thread asked
  // `ts` to drop, drop, wait until a waiter took the GIL (forced switching),
  // and take it back. Returns whether it switched.
  bool yield_if_requested(ThreadState& ts);

  // finalize() is called by the thread that holds the GIL when the
  // interpreter shuts down: from then on take() never returns for any other
  // thread (like CPython parking daemon threads at exit), so a straggler can
  // never touch a VM that is being closed.
  void finalize(ThreadState& ts);

  std::chrono::nanoseconds switch_interval() const;
  void set_switch_interval(std::chrono::nanoseconds interval);

  // totals() returns the lock-wide counters; counters(ts) one thread's.
  GilCounters totals() const;
  GilCounters counters(const ThreadState& ts) const;
  // waiting() is the number of threads blocked in take() right now.
  int waiting() const;
  bool locked() const;

 private:
  void take_locked(ThreadState& ts, std::unique_lock<std::mutex>& lock);
  void drop_locked(ThreadState& ts, bool exiting);

  mutable std::mutex mutex_;
  std::condition_variable cond_;         // signalled when the GIL is dropped
  std::condition_variable switch_cond_;  // signalled when a waiter took it
  bool locked_ = false;
  bool finalizing_ = false;
  ThreadState* finalizer_ = nullptr;
  ThreadState* holder_ = nullptr;  // last (or current) holder
  uint64_t switch_number_ = 0;     // bumped every time the holder changes
  int waiting_ = 0;
  Clock::time_point taken_at_{};
  GilCounters totals_;
  std::atomic<int64_t> interval_ns_;
};

}  // namespace gilrun
