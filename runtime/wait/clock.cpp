// clock.cpp — see clock.h.
#include "wait/clock.h"

#include <algorithm>
#include <cmath>

namespace gilrun {

Deadline deadline_after(std::optional<double> seconds) {
  if (!seconds || *seconds < 0 || std::isnan(*seconds)) return std::nullopt;
  // Clamp so that absurd timeouts (math.huge) do not overflow the clock.
  const double capped = std::min(*seconds, 1e9);
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(capped));
}

}  // namespace gilrun
