// wait_line.cpp — see wait_line.h. Called with the Gil's mutex held.
#include "gil/wait_line.h"

#include <algorithm>

namespace gilrun {

void WaitLine::join(ThreadState& ts) {
  line_.push_back(&ts);
  if (timekeeper_ == nullptr) timekeeper_ = &ts;
}

ThreadState* WaitLine::leave(ThreadState& ts) {
  if (!line_.empty() && line_.front() == &ts) {
    line_.pop_front();  // the usual case: the front took the GIL
  } else {
    const auto at = std::find(line_.begin(), line_.end(), &ts);
    if (at != line_.end()) line_.erase(at);
  }
  if (timekeeper_ != &ts) return nullptr;
  timekeeper_ = line_.empty() ? nullptr : line_.back();
  return timekeeper_;
}

}  // namespace gilrun
