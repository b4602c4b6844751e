#include "wait/parker.h"

#include <cmath>

namespace gilrun {

Deadline deadline_after(std::optional<double> seconds) {
  if (!seconds || *seconds < 0 || std::isnan(*seconds)) return std::nullopt;
  // Clamp so that absurd timeouts (math.huge) do not overflow the clock.
  const double capped = std::min(*seconds, 1e9);
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(capped));
}

bool Parker::park(const Deadline& deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (deadline) {
    if (!cond_.wait_until(lock, *deadline, [this] { return permit_; })) return false;
  } else {
    cond_.wait(lock, [this] { return permit_; });
  }
  permit_ = false;
  return true;
}

void Parker::unpark() {
  std::lock_guard<std::mutex> lock(mutex_);
  permit_ = true;
  cond_.notify_one();
}

}  // namespace gilrun
