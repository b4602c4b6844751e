#include "top_rates.h"

#include <algorithm>
#include <map>
#include <string>

namespace gilrun::cli::top {
namespace {
double clamp01(double x) { return std::min(1.0, std::max(0.0, x)); }
double per_s(uint64_t a, uint64_t b, double dt) {
  return dt > 0 && b >= a ? static_cast<double>(b - a) / dt : 0;
}
}  // namespace

Rates rates(const monitor::Sample& before, const monitor::Sample& now) {
  Rates r;
  r.window = now.at - before.at;
  const double dt = r.window;
  r.switches_per_s = per_s(before.switches, now.switches, dt);
  r.drop_requests_per_s = per_s(before.drop_requests, now.drop_requests, dt);
  r.load = dt > 0 ? clamp01((now.load_time - before.load_time) / dt) : 0;
  std::map<uint64_t, const monitor::ThreadSample*> earlier;
  for (const auto& t : before.threads) earlier[t.id] = &t;
  for (const auto& t : now.threads) {
    if (t.state == monitor::SlotState::exited) continue;
    ThreadRates tr;
    tr.thread = &t;
    const auto it = earlier.find(t.id);
    const monitor::ThreadSample zero;
    const monitor::ThreadSample& b = it != earlier.end() ? *it->second : zero;
    if (dt > 0) {
      // Waiting is what is neither held nor blocked: it includes the wait
      // after a forced drop for the waiter to take over (forced switching).
      tr.held = clamp01((t.hold_time - b.hold_time) / dt);
      tr.blocked = clamp01((t.blocked_time - b.blocked_time) / dt);
      if (it == earlier.end()) {  // new in this window: its own share of it
        tr.held = clamp01(std::min(t.hold_time, dt) / dt);
        tr.blocked = clamp01(std::min(t.blocked_time, dt) / dt);
      }
      tr.waiting = clamp01(1 - tr.held - tr.blocked);
    }
    tr.forced_per_s = per_s(b.forced_drops, t.forced_drops, dt);
    tr.futile_per_s = per_s(b.futile_wakeups, t.futile_wakeups, dt);
    tr.current_wait = t.state == monitor::SlotState::waiting ? t.state_for : 0;
    r.threads.push_back(tr);
  }
  return r;
}

void History::add(monitor::Sample sample) {
  samples_.push_back(std::move(sample));
  while (samples_.size() > 2 && samples_.back().at - samples_.front().at > 61) samples_.pop_front();
}

const monitor::Sample& History::second_ago() const {
  for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
    if (samples_.back().at - it->at >= 1.0) return *it;
  }
  return samples_.front();
}

namespace {
template <class Field>
std::vector<double> per_second(const std::deque<monitor::Sample>& samples, Field field) {
  std::vector<double> out;
  if (samples.empty()) return out;
  const monitor::Sample* start = &samples.front();
  for (const auto& s : samples) {
    if (s.at - start->at >= 1.0) {
      out.push_back(per_s(field(*start), field(s), s.at - start->at));
      start = &s;
    }
  }
  return out;
}
}  // namespace

std::vector<double> History::switches_per_second() const {
  return per_second(samples_, [](const monitor::Sample& s) { return s.switches; });
}

std::vector<double> History::drop_requests_per_second() const {
  return per_second(samples_, [](const monitor::Sample& s) { return s.drop_requests; });
}

std::string sparkline(const std::vector<double>& values, size_t width) {
  static const char* const kBars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                      "\u2585", "\u2586", "\u2587", "\u2588"};
  const size_t from = values.size() > width ? values.size() - width : 0;
  double top = 0;
  for (size_t i = from; i < values.size(); ++i) top = std::max(top, values[i]);
  std::string line;
  for (size_t i = from; i < values.size(); ++i) {
    const int level = top > 0 ? static_cast<int>(values[i] / top * 7.0 + 0.5) : 0;
    line += kBars[std::min(7, std::max(0, level))];
  }
  return line;
}

}  // namespace gilrun::cli::top
