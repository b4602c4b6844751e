// parker.h — Parker: the one place an OS thread sleeps. This file is private
// to the runtime.
//
// Parker is a binary permit, like Java's LockSupport: unpark() grants it,
// park() consumes it or sleeps until it is granted or the deadline passes.
// A permit granted before park() is not lost, so a waker never needs to know
// whether the sleeper has gone to sleep yet.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>

#include "gil/gil.h"

namespace gilrun {

using Deadline = std::optional<Clock::time_point>;  // nullopt: wait forever

// deadline_after() converts a Lua timeout in seconds; negative or absent
// (nullopt) means forever.
Deadline deadline_after(std::optional<double> seconds);

class Parker {
 public:
  // park() returns true if it consumed a permit, false on time-out.
  bool park(const Deadline& deadline);
  void unpark();

 private:
  std::mutex mutex_;
  std::condition_variable cond_;
  bool permit_ = false;
};

}  // namespace gilrun
