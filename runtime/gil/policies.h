// policies.h — the GIL policies, side by side. This file is private to
// the runtime; each class's file opens with what it models and why.
#pragma once

#include <optional>

#include "gil/gil.h"
#include "gil/handoff_queue.h"
#include "thread_state.h"  // wait_for_grant() waits on ThreadState::gil_turn

namespace gilrun {

class IntervalGil final : public Gil {
 public:
  explicit IntervalGil(const GilSettings& s) : Gil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) REQUIRES(mutex_) override;
  void release(ThreadState& ts, bool forced) REQUIRES(mutex_) override;
  bool yield_locked(ThreadState& ts, Lock& lock) REQUIRES(mutex_) override;
};

class TicksGil final : public Gil {
 public:
  explicit TicksGil(const GilSettings& s) : Gil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) REQUIRES(mutex_) override;
  void release(ThreadState& ts, bool forced) REQUIRES(mutex_) override;
  bool yield_locked(ThreadState& ts, Lock& lock) REQUIRES(mutex_) override;
  void on_taken(ThreadState& ts) REQUIRES(mutex_) override;

 private:
  uint64_t ticks_ GUARDED_BY(mutex_) = 0;                 // releases at a tick, to tell a lost break
  ThreadState* timekeeper_ GUARDED_BY(mutex_) = nullptr;  // the waiter that watches for them
};

// HandOffGil is the base of the policies that hand the GIL to a chosen
// waiter (fifo; priority's I/O threads).
class HandOffGil : public Gil {
 protected:
  explicit HandOffGil(const GilSettings& s) : Gil(s) {}

  // wait_for_grant() is their waiter, the one place it is written: `ts`
  // queues in `queue` and returns once it was handed the GIL, or found it
  // free at the front of the line (nobody to hand it over). Only the front
  // waiter times the holder: it calls `front_turn()` (mutex held), which
  // waits a while and may ask the holder to drop; the others sleep until a
  // release or a grant wakes them.
  template <class FrontTurn>
  void wait_for_grant(ThreadState& ts, Lock& lock, HandOffQueue& queue, FrontTurn&& front_turn)
      REQUIRES(mutex_) {
    queue.push(ts);
    while (!queue.take_grant(ts)) {
      if (free_for(ts) && queue.front() == &ts) {  // nobody to hand it over
        queue.remove(ts);
        return;
      }
      if (parked_forever(ts)) park_forever(lock);
      if (queue.front() != &ts) {  // not our turn to time the holder
        ts.gil_turn.wait(lock.native());
        continue;
      }
      front_turn();
    }
  }
};

class FifoGil final : public HandOffGil {
 public:
  explicit FifoGil(const GilSettings& s) : HandOffGil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) REQUIRES(mutex_) override;
  void release(ThreadState& ts, bool forced) REQUIRES(mutex_) override;
  bool yield_locked(ThreadState& ts, Lock& lock) REQUIRES(mutex_) override;
  bool handing_off() const REQUIRES(mutex_) override { return waiters_.granting(); }

 private:
  HandOffQueue waiters_ GUARDED_BY(mutex_);
};

// PreemptionBudget: a token bucket, in time, of how much CPU-bound threads
// may lose to I/O threads that preempt them (priority.cpp), and the clock of
// the loss under way (the detour).
class PreemptionBudget {
 public:
  // available() refills for the time since the last call, up to `cap`.
  Clock::duration available(Clock::time_point now, Clock::duration cap);
  void spend(Clock::duration lost) { tokens_ -= lost; }
  // time_until_positive() is how long the refill takes to pay a debt.
  Clock::duration time_until_positive() const;
  // begin_detour() starts the clock of a preemption's cost, unless it runs
  // already (a detour lasts through several I/O threads' turns);
  // end_detour() spends what it ran, if it ran.
  void begin_detour(Clock::time_point now) {
    if (!detour_since_) detour_since_ = now;
  }
  void end_detour(Clock::time_point now);
  bool in_detour() const { return detour_since_.has_value(); }

 private:
  Clock::duration tokens_{};
  Clock::time_point refilled_at_ = Clock::now();
  std::optional<Clock::time_point> detour_since_;
};

class PriorityGil final : public HandOffGil {
 public:
  explicit PriorityGil(const GilSettings& s) : HandOffGil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) REQUIRES(mutex_) override;
  void release(ThreadState& ts, bool forced) REQUIRES(mutex_) override;
  bool yield_locked(ThreadState& ts, Lock& lock) REQUIRES(mutex_) override;
  void on_taken(ThreadState& ts) REQUIRES(mutex_) override;
  bool handing_off() const REQUIRES(mutex_) override { return io_waiters_.granting(); }

 private:
  bool preemptible() const REQUIRES(mutex_);
  bool try_preempt(ThreadState& requester) REQUIRES(mutex_);

  HandOffQueue io_waiters_ GUARDED_BY(mutex_);  // threads coming back from blocking calls
  PreemptionBudget budget_ GUARDED_BY(mutex_);
};

}  // namespace gilrun
