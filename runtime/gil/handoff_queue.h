// handoff_queue.h — HandOffQueue, the line of waiters that fifo and
// priority hand the GIL along. This file is private to the runtime.
#pragma once

#include <deque>

namespace gilrun {

struct ThreadState;

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

}  // namespace gilrun
