#include "stats_report.h"

#include <string>

#include "blame_report.h"
#include "text_format.h"

namespace gilrun::cli {
namespace {

std::string ms(double seconds) { return format("%.1f ms", seconds * 1e3); }

std::string percent(double part, double whole) {
  return whole > 0 ? format("%.1f%%", 100.0 * part / whole) : "-";
}

}  // namespace

void print_stats_table(std::ostream& out, const Stats& s) {
  out << format("\nGIL statistics: policy %s, switch interval %s, %.3f s\n", s.policy.c_str(),
                ms(std::chrono::duration<double>(s.switch_interval).count()).c_str(), s.elapsed);
  const char* row = "%-4s %-14.14s %7s %11s %11s %9s %9s %7s %9s %7s %9s %9s %11s\n";
  out << format(row, "id", "thread", "held", "held time", "waited", "acquires", "switches",
                "forced", "voluntary", "futile", "wait p50", "wait p99", "longest");
  auto line = [&](const std::string& id, const std::string& name, double hold, double wait,
                  uint64_t acquisitions, uint64_t switches, uint64_t forced, uint64_t voluntary,
                  uint64_t futile, double p50, double p99, double longest) {
    out << format(row, id.c_str(), name.c_str(), percent(hold, s.elapsed).c_str(),
                  ms(hold).c_str(), ms(wait).c_str(), std::to_string(acquisitions).c_str(),
                  std::to_string(switches).c_str(), std::to_string(forced).c_str(),
                  std::to_string(voluntary).c_str(), std::to_string(futile).c_str(),
                  ms(p50).c_str(), ms(p99).c_str(), ms(longest).c_str());
  };
  for (const auto& [id, t] : s.threads) {
    line(std::to_string(id), t.name, t.hold_time, t.wait_time, t.acquisitions, t.switches,
         t.forced_drops, t.voluntary_drops, t.futile_wakeups, t.wait_p50, t.wait_p99,
         t.longest_wait);
  }
  line("", "total", s.hold_time, s.wait_time, s.acquisitions, s.switches, s.forced_drops,
       s.voluntary_drops, s.futile_wakeups, s.wait_p50, s.wait_p99, s.longest_wait);
  out << format("drop requests: %llu   switches/s: %.1f   GIL load (someone waiting): %.1f%%\n",
                static_cast<unsigned long long>(s.drop_requests), s.switches_per_second,
                100.0 * s.gil_load);
  print_blame_tables(out, s);
}

namespace {

// json_figures() is the fields a whole run and each thread share, as JSON
// members (no braces).
std::string json_figures(const GilFigures& f) {
  return format(
      "\"acquisitions\":%llu,\"switches\":%llu,\"drop_requests\":%llu,\"forced_drops\":%llu,"
      "\"voluntary_drops\":%llu,\"futile_wakeups\":%llu,\"wait_time\":%.6f,\"hold_time\":%.6f,"
      "\"longest_wait\":%.6f,\"wait_p50\":%.9f,\"wait_p99\":%.9f",
      static_cast<unsigned long long>(f.acquisitions), static_cast<unsigned long long>(f.switches),
      static_cast<unsigned long long>(f.drop_requests),
      static_cast<unsigned long long>(f.forced_drops),
      static_cast<unsigned long long>(f.voluntary_drops),
      static_cast<unsigned long long>(f.futile_wakeups), f.wait_time, f.hold_time, f.longest_wait,
      f.wait_p50, f.wait_p99);
}

}  // namespace

void print_stats_json(std::ostream& out, const Stats& s) {
  out << "{\"policy\":" << json_string(s.policy)
      << format(",\"elapsed\":%.6f,\"switch_interval\":%.9f,\"gil_load\":%.6f,"
                "\"switches_per_second\":%.3f,",
                s.elapsed, std::chrono::duration<double>(s.switch_interval).count(), s.gil_load,
                s.switches_per_second)
      << json_figures(s) << ",\"threads\":[";
  bool first = true;
  for (const auto& [id, t] : s.threads) {
    out << (first ? "" : ",") << format("{\"id\":%llu,\"name\":", static_cast<unsigned long long>(id))
        << json_string(t.name) << "," << json_figures(t) << "}";
    first = false;
  }
  out << "]}\n";
}

}  // namespace gilrun::cli
