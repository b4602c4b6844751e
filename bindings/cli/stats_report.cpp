#include "stats_report.h"

#include <cstdarg>
#include <cstdio>
#include <string>

namespace gilrun::cli {
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[256];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

std::string ms(double seconds) { return format("%.1f ms", seconds * 1e3); }

std::string percent(double part, double whole) {
  return whole > 0 ? format("%.1f%%", 100.0 * part / whole) : "-";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += format("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

void print_stats_table(std::ostream& out, const Stats& s) {
  out << format("\nGIL statistics (%.3f s, switch interval %s)\n", s.elapsed,
                ms(std::chrono::duration<double>(s.switch_interval).count()).c_str());
  out << format("%-4s %-16s %8s %12s %12s %9s %9s %8s %12s\n", "id", "thread", "held",
                "held time", "waited", "acquires", "switches", "forced", "longest wait");
  for (const auto& [id, t] : s.threads) {
    out << format("%-4llu %-16.16s %8s %12s %12s %9llu %9llu %8llu %12s\n",
                  static_cast<unsigned long long>(id), t.name.c_str(),
                  percent(t.hold_time, s.elapsed).c_str(), ms(t.hold_time).c_str(),
                  ms(t.wait_time).c_str(), static_cast<unsigned long long>(t.acquisitions),
                  static_cast<unsigned long long>(t.switches),
                  static_cast<unsigned long long>(t.forced_drops), ms(t.longest_wait).c_str());
  }
  out << format("%-4s %-16s %8s %12s %12s %9llu %9llu %8llu %12s\n", "", "total",
                percent(s.hold_time, s.elapsed).c_str(), ms(s.hold_time).c_str(),
                ms(s.wait_time).c_str(), static_cast<unsigned long long>(s.acquisitions),
                static_cast<unsigned long long>(s.switches),
                static_cast<unsigned long long>(s.forced_drops), ms(s.longest_wait).c_str());
  out << format("drop requests: %llu, switches/s: %.1f\n",
                static_cast<unsigned long long>(s.drop_requests),
                s.elapsed > 0 ? static_cast<double>(s.switches) / s.elapsed : 0.0);
}

void print_stats_json(std::ostream& out, const Stats& s) {
  out << format(
      "{\"elapsed\":%.6f,\"switch_interval\":%.9f,\"acquisitions\":%llu,\"switches\":%llu,"
      "\"drop_requests\":%llu,\"forced_drops\":%llu,\"wait_time\":%.6f,\"hold_time\":%.6f,"
      "\"longest_wait\":%.6f,\"threads\":[",
      s.elapsed, std::chrono::duration<double>(s.switch_interval).count(),
      static_cast<unsigned long long>(s.acquisitions),
      static_cast<unsigned long long>(s.switches),
      static_cast<unsigned long long>(s.drop_requests),
      static_cast<unsigned long long>(s.forced_drops), s.wait_time, s.hold_time,
      s.longest_wait);
  bool first = true;
  for (const auto& [id, t] : s.threads) {
    out << (first ? "" : ",")
        << format("{\"id\":%llu,\"name\":", static_cast<unsigned long long>(id))
        << json_string(t.name)
        << format(",\"acquisitions\":%llu,\"switches\":%llu,\"drop_requests\":%llu,"
                  "\"forced_drops\":%llu,\"wait_time\":%.6f,\"hold_time\":%.6f,"
                  "\"longest_wait\":%.6f}",
                  static_cast<unsigned long long>(t.acquisitions),
                  static_cast<unsigned long long>(t.switches),
                  static_cast<unsigned long long>(t.drop_requests),
                  static_cast<unsigned long long>(t.forced_drops), t.wait_time, t.hold_time,
                  t.longest_wait);
    first = false;
  }
  out << "]}\n";
}

}  // namespace gilrun::cli
