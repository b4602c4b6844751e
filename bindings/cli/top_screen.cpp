#include "top_screen.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "text_format.h"

namespace gilrun::cli::top {
namespace {

const char* state_name(monitor::SlotState s) {
  switch (s) {
    case monitor::SlotState::running: return "holds GIL";
    case monitor::SlotState::waiting: return "waiting";
    case monitor::SlotState::blocked: return "blocked";
    case monitor::SlotState::exited: return "exited";
    case monitor::SlotState::unused: break;
  }
  return "-";
}

std::string duration(double s) {
  if (s >= 1) return format("%.2f s", s);
  if (s >= 1e-3) return format("%.1f ms", s * 1e3);
  return format("%.0f us", s * 1e6);
}

// fit() cuts a line to `width` columns (each UTF-8 sequence is one column).
std::string fit(const std::string& line, int width) {
  std::string out;
  int columns = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if ((c & 0xc0) != 0x80) {
      if (columns == width) break;
      ++columns;
    }
    out += static_cast<char>(c);
  }
  return out;
}

std::string printable(const std::string& name) {
  std::string out;
  for (char c : name) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

}  // namespace

const char* sort_name(SortKey key) {
  switch (key) {
    case SortKey::held: return "held";
    case SortKey::waiting: return "waiting";
    case SortKey::forced: return "forced";
    case SortKey::id: return "id";
  }
  return "?";
}

std::string render_screen(const History& history, const ScreenState& st) {
  const monitor::Sample& now = history.latest();
  const Rates r = rates(history.second_ago(), now);
  std::vector<std::string> lines;
  lines.push_back(format("gilrun top - pid %d   policy %s   switch interval %s%s", now.pid,
                         now.policy.c_str(), duration(now.switch_interval).c_str(),
                         st.paused ? "   [paused]" : ""));
  std::string holder = "nobody";
  for (const auto& t : now.threads) {
    if (t.id == now.holder_id) holder = printable(t.name) + format(" (id %llu)", static_cast<unsigned long long>(t.id));
  }
  lines.push_back(now.locked ? format("GIL held by %s for %s   %llu waiting", holder.c_str(),
                                      duration(now.held_for).c_str(),
                                      static_cast<unsigned long long>(now.waiting))
                             : format("GIL free   %llu waiting",
                                      static_cast<unsigned long long>(now.waiting)));
  const size_t spark_width = static_cast<size_t>(std::max(10, std::min(60, st.width - 40)));
  lines.push_back(format("switches/s %9.1f  %s", r.switches_per_s,
                         sparkline(history.switches_per_second(), spark_width).c_str()));
  lines.push_back(format("drop req/s %9.1f  %s", r.drop_requests_per_s,
                         sparkline(history.drop_requests_per_second(), spark_width).c_str()));
  lines.push_back(format("GIL load (someone waiting) %.1f%%   over the last %.1f s", 100 * r.load,
                         r.window));
  lines.push_back("");
  std::vector<ThreadRates> rows = r.threads;
  std::stable_sort(rows.begin(), rows.end(), [&](const ThreadRates& a, const ThreadRates& b) {
    switch (st.sort) {
      case SortKey::held: return a.held > b.held;
      case SortKey::waiting: return a.waiting > b.waiting;
      case SortKey::forced: return a.forced_per_s > b.forced_per_s;
      case SortKey::id: break;
    }
    return a.thread->id < b.thread->id;
  });
  lines.push_back(format("%-5s %-16s %-10s %6s %8s %8s %9s %9s %12s", "id", "thread", "state",
                         "held", "waiting", "blocked", "forced/s", "futile/s", "this wait"));
  for (const ThreadRates& t : rows) {
    lines.push_back(format("%-5llu %-16.16s %-10s %5.1f%% %7.1f%% %7.1f%% %9.1f %9.1f %12s",
                           static_cast<unsigned long long>(t.thread->id),
                           printable(t.thread->name).c_str(), state_name(t.thread->state),
                           100 * t.held, 100 * t.waiting, 100 * t.blocked, t.forced_per_s,
                           t.futile_per_s,
                           t.current_wait > 0 ? duration(t.current_wait).c_str() : "-"));
  }
  if (now.threads_hidden > 0) {
    lines.push_back(format("(%llu more threads not shown)", static_cast<unsigned long long>(now.threads_hidden)));
  }
  if (now.exited) lines.push_back(format("process %d has exited", now.pid));
  if (st.keys) lines.push_back(format("q quit   s sort (by %s)   p pause", sort_name(st.sort)));
  std::string screen;
  const size_t max_lines = st.height > 0 ? static_cast<size_t>(st.height) : lines.size();
  for (size_t i = 0; i < lines.size() && i < max_lines; ++i) screen += fit(lines[i], st.width) + "\n";
  return screen;
}

std::string sample_json(const History& history) {
  const monitor::Sample& now = history.latest();
  const Rates r = rates(history.second_ago(), now);
  std::ostringstream out;
  out << format("{\"pid\":%d,\"time\":%.6f,\"policy\":", now.pid, now.at)
      << json_string(now.policy)
      << format(",\"switch_interval\":%.9f,\"locked\":%s,\"holder\":%llu,\"held_for\":%.6f,"
                "\"waiting\":%llu,\"switches\":%llu,\"drop_requests\":%llu,\"forced_drops\":%llu,"
                "\"voluntary_drops\":%llu,\"futile_wakeups\":%llu,\"wait_time\":%.6f,"
                "\"hold_time\":%.6f,\"window\":%.6f,\"switches_per_second\":%.3f,"
                "\"drop_requests_per_second\":%.3f,\"gil_load\":%.6f,\"exited\":%s,\"threads\":[",
                now.switch_interval, now.locked ? "true" : "false",
                static_cast<unsigned long long>(now.holder_id), now.held_for,
                static_cast<unsigned long long>(now.waiting),
                static_cast<unsigned long long>(now.switches),
                static_cast<unsigned long long>(now.drop_requests),
                static_cast<unsigned long long>(now.forced_drops),
                static_cast<unsigned long long>(now.voluntary_drops),
                static_cast<unsigned long long>(now.futile_wakeups), now.wait_time, now.hold_time,
                r.window, r.switches_per_s, r.drop_requests_per_s, r.load,
                now.exited ? "true" : "false");
  bool first = true;
  for (const ThreadRates& t : r.threads) {
    out << (first ? "" : ",") << format("{\"id\":%llu,\"name\":", static_cast<unsigned long long>(t.thread->id))
        << json_string(t.thread->name)
        << format(",\"state\":\"%s\",\"held\":%.4f,\"waiting\":%.4f,\"blocked\":%.4f,"
                  "\"forced_drops_per_second\":%.3f,\"futile_wakeups_per_second\":%.3f,"
                  "\"current_wait\":%.6f,\"acquisitions\":%llu,\"forced_drops\":%llu}",
                  state_name(t.thread->state), t.held, t.waiting, t.blocked, t.forced_per_s,
                  t.futile_per_s, t.current_wait,
                  static_cast<unsigned long long>(t.thread->acquisitions),
                  static_cast<unsigned long long>(t.thread->forced_drops));
    first = false;
  }
  out << "]}";
  return out.str();
}

}  // namespace gilrun::cli::top
