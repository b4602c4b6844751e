// clock.h — the runtime's clock and the deadline every wait takes. This file
// is private to the runtime.
//
// One monotonic clock for everything that measures or waits (the GIL's
// figures, traces, timers, parkers); a Deadline is a point on it or forever.
// Its own header so that what only needs a clock includes no GIL or parker.
#pragma once

#include <chrono>
#include <optional>

namespace gilrun {

using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;  // nullopt: wait forever

// deadline_after() converts a Lua timeout in seconds; negative or absent
// (nullopt) means forever.
Deadline deadline_after(std::optional<double> seconds);

}  // namespace gilrun
