// handoff_queue.cpp — see handoff_queue.h. Called with the Gil's mutex held.
#include "gil/handoff_queue.h"

#include <algorithm>

#include "thread_state.h"

namespace gilrun {

void HandOffQueue::remove(ThreadState& ts) {
  const bool was_front = !queue_.empty() && queue_.front() == &ts;
  queue_.erase(std::remove(queue_.begin(), queue_.end(), &ts), queue_.end());
  if (was_front) wake_front();
}

void HandOffQueue::hand_to_front() {
  granted_ = queue_.front();
  queue_.pop_front();
  granted_->gil_turn.notify_one();
  wake_front();
}

void HandOffQueue::wake_front() {
  if (!queue_.empty()) queue_.front()->gil_turn.notify_one();
}

bool HandOffQueue::take_grant(ThreadState& ts) {
  if (granted_ != &ts) return false;
  granted_ = nullptr;
  return true;
}

}  // namespace gilrun
