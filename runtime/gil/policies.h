// policies.h — the GIL policies, side by side. This file is private to
// the runtime; each class's file opens with what it models and why.
#pragma once

#include <deque>
#include <optional>

#include "gil/gil.h"

namespace gilrun {

class IntervalGil final : public Gil {
 public:
  explicit IntervalGil(const GilSettings& s) : Gil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) override;
  void release(ThreadState& ts, bool forced) override;
  bool yield_locked(ThreadState& ts, Lock& lock) override;
};

class TicksGil final : public Gil {
 public:
  explicit TicksGil(const GilSettings& s) : Gil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) override;
  void release(ThreadState& ts, bool forced) override;
  bool yield_locked(ThreadState& ts, Lock& lock) override;
  void on_taken(ThreadState& ts) override;

 private:
  uint64_t ticks_ = 0;                 // releases at a tick, to tell a lost break
  ThreadState* timekeeper_ = nullptr;  // the waiter that watches for them
};

// HandOffQueue: waiters in arrival order, each woken on its own condition
// variable when the GIL is handed to it. Used by fifo and priority. Only
// the waiter at the front keeps time (wakes every switch interval to ask
// the holder to drop); the rest sleep until they reach the front, which
// wakes them. With thousands of waiters, all of them waking every interval
// was a storm that took minutes to drain.
class HandOffQueue {
 public:
  bool empty() const { return queue_.empty(); }
  ThreadState* front() const { return queue_.front(); }
  void push(ThreadState& ts) { queue_.push_back(&ts); }
  void remove(ThreadState& ts);
  // hand_to_front() pops the longest waiter and marks the GIL as its own.
  void hand_to_front();
  // take_grant() tells whether the GIL was handed to `ts` (and clears it).
  bool take_grant(ThreadState& ts);
  bool granting() const { return granted_ != nullptr; }
  bool granted_to(const ThreadState& ts) const { return granted_ == &ts; }

 private:
  void wake_front();
  std::deque<ThreadState*> queue_;
  ThreadState* granted_ = nullptr;
};

class FifoGil final : public Gil {
 public:
  explicit FifoGil(const GilSettings& s) : Gil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) override;
  void release(ThreadState& ts, bool forced) override;
  bool yield_locked(ThreadState& ts, Lock& lock) override;

 private:
  HandOffQueue waiters_;
};

// PreemptionBudget: a token bucket, in time, of how much CPU-bound threads
// may lose to I/O threads that preempt them (priority.cpp).
class PreemptionBudget {
 public:
  // available() refills for the time since the last call, up to `cap`.
  Clock::duration available(Clock::time_point now, Clock::duration cap);
  void spend(Clock::duration lost) { tokens_ -= lost; }
  // time_until_positive() is how long the refill takes to pay a debt.
  Clock::duration time_until_positive() const;

 private:
  Clock::duration tokens_{};
  Clock::time_point refilled_at_ = Clock::now();
};

class PriorityGil final : public Gil {
 public:
  explicit PriorityGil(const GilSettings& s) : Gil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) override;
  void release(ThreadState& ts, bool forced) override;
  bool yield_locked(ThreadState& ts, Lock& lock) override;
  bool handing_off() const override { return io_waiters_.granting(); }

 private:
  bool preemptible() const;
  bool try_preempt(ThreadState& requester);

  HandOffQueue io_waiters_;  // threads coming back from blocking calls
  PreemptionBudget budget_;
  std::optional<Clock::time_point> preempted_at_;  // I/O's detour started
};

}  // namespace gilrun
