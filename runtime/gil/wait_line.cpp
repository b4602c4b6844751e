// wait_line.cpp — see wait_line.h. Called with the Gil's mutex held.
#include "gil/wait_line.h"

#include <algorithm>

namespace gilrun {

void WaitLine::join(ThreadState& ts) {
  line_.push_back(&ts);
  if (timekeeper_ == nullptr) timekeeper_ = &ts;
}

WaitLine::ToWake WaitLine::leave(ThreadState& ts) {
  ToWake wake;
  if (!line_.empty() && line_.front() == &ts) {
    line_.pop_front();  // the usual case: the front took the GIL
    if (!line_.empty()) wake.front = line_.front();
  } else {
    const auto at = std::find(line_.begin(), line_.end(), &ts);
    if (at != line_.end()) line_.erase(at);
  }
  if (timekeeper_ == &ts) {
    timekeeper_ = line_.empty() ? nullptr : line_.back();
    wake.timekeeper = timekeeper_;
  }
  if (wake.front == wake.timekeeper) wake.timekeeper = nullptr;
  return wake;
}

}  // namespace gilrun
