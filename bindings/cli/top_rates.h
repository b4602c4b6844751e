// top_rates.h — `gilrun top`'s arithmetic: rates over the last second from
// two samples of a monitor page, and the last minute of switches/s.
#pragma once

#include <deque>
#include <vector>

#include "monitor/reader.h"

namespace gilrun::cli::top {

struct ThreadRates {
  const monitor::ThreadSample* thread = nullptr;  // in the newer sample
  double held = 0, waiting = 0, blocked = 0;       // fractions of the window
  double forced_per_s = 0, futile_per_s = 0;
  double current_wait = 0;  // seconds, when waiting now
};

struct Rates {
  double window = 0;  // seconds between the two samples
  double switches_per_s = 0, drop_requests_per_s = 0, load = 0;
  std::vector<ThreadRates> threads;  // exited threads left out
};

// rates() compares `now` with `before` (the same page, earlier).
Rates rates(const monitor::Sample& before, const monitor::Sample& now);

// History keeps samples of the last minute: the one about a second ago
// (for rates), and switches/s and drop requests/s per second (sparklines).
class History {
 public:
  void add(monitor::Sample sample);
  const monitor::Sample& latest() const { return samples_.back(); }
  // second_ago() is the newest sample at least a second older than the
  // latest, else the oldest.
  const monitor::Sample& second_ago() const;
  std::vector<double> switches_per_second() const;
  std::vector<double> drop_requests_per_second() const;
  bool empty() const { return samples_.empty(); }

 private:
  std::deque<monitor::Sample> samples_;
};

// sparkline() draws `values` (the last `width` of them) as block characters
// scaled to their maximum.
std::string sparkline(const std::vector<double>& values, size_t width);

}  // namespace gilrun::cli::top
