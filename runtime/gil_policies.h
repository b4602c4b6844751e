// gil_policies.h — the GIL policies, side by side. This file is private to
// the runtime; each class's file opens with what it models and why.
#pragma once

#include <deque>

#include "gil.h"

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
};

// HandOffQueue: waiters in arrival order, each woken on its own condition
// variable when the GIL is handed to it. Used by fifo and priority.
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

 private:
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

class PriorityGil final : public Gil {
 public:
  explicit PriorityGil(const GilSettings& s) : Gil(s) {}

 protected:
  void wait_turn(ThreadState& ts, Lock& lock) override;
  void release(ThreadState& ts, bool forced) override;
  bool yield_locked(ThreadState& ts, Lock& lock) override;
  bool handing_off() const override { return io_waiters_.granting(); }

 private:
  HandOffQueue io_waiters_;  // threads coming back from blocking calls
};

}  // namespace gilrun
