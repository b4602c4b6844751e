#include "stats_report.h"

#include <string>
#include <vector>

#include "blame_report.h"
#include "text_format.h"

namespace gilrun::cli {
namespace {

std::string ms(double seconds) { return format("%.1f ms", seconds * 1e3); }

std::string percent(double part, double whole) {
  return whole > 0 ? format("%.1f%%", 100.0 * part / whole) : "-";
}

// utf8_length() is the length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_length(const std::string& s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  unsigned min = 0;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; }
  else return 0;
  if (i + n > s.size()) return 0;
  unsigned cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  if (cp >= 0x80 && cp <= 0x9f) return 0;  // C1 controls (0x9b is CSI): escaped
  return n;
}

// escaped_chars() splits `text` into what the table shows for each
// character: itself, or an escape for a control character or a bad byte.
std::vector<std::string> escaped_chars(const std::string& text) {
  std::vector<std::string> chars;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t n = utf8_length(text, i);
    if (n > 1 || (n == 1 && c >= 0x20 && c != 0x7f)) {
      chars.push_back(text.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case '\n': chars.push_back("\\n"); break;
      case '\r': chars.push_back("\\r"); break;
      case '\t': chars.push_back("\\t"); break;
      default: chars.push_back(format("\\x%02x", c));
    }
    ++i;
  }
  return chars;
}

}  // namespace

std::string table_cell(const std::string& text, size_t width) {
  std::string cell;
  size_t shown = 0;
  for (const std::string& ch : escaped_chars(text)) {
    if (shown == width) break;
    // An escape is several columns wide: cut it whole, not half-way.
    const size_t columns = ch[0] == '\\' && ch.size() > 1 ? ch.size() : 1;
    if (shown + columns > width) break;
    cell += ch;
    shown += columns;
  }
  return cell + std::string(width - shown, ' ');
}

void print_stats_table(std::ostream& out, const Stats& s) {
  out << format("\nGIL statistics: policy %s, switch interval %s, %.3f s\n", s.policy.c_str(),
                ms(std::chrono::duration<double>(s.switch_interval).count()).c_str(), s.elapsed);
  const char* row = "%-4s %s %7s %11s %11s %9s %9s %7s %9s %7s %9s %9s %11s\n";
  out << format(row, "id", table_cell("thread", 14).c_str(), "held", "held time", "waited", "acquires", "switches",
                "forced", "voluntary", "futile", "wait p50", "wait p99", "longest");
  auto line = [&](const std::string& id, const std::string& name, double hold, double wait,
                  uint64_t acquisitions, uint64_t switches, uint64_t forced, uint64_t voluntary,
                  uint64_t futile, double p50, double p99, double longest) {
    out << format(row, id.c_str(), table_cell(name, 14).c_str(), percent(hold, s.elapsed).c_str(),
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
  if (s.partial) {
    out << "(no per-thread rows: a thread held the GIL while the process was ending)\n";
  }
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
      "\"voluntary_drops\":%llu,\"futile_wakeups\":%llu,\"awake_takes\":%llu,\"wait_time\":%.6f,"
      "\"hold_time\":%.6f,\"longest_wait\":%.6f,\"wait_p50\":%.9f,\"wait_p99\":%.9f",
      static_cast<unsigned long long>(f.acquisitions), static_cast<unsigned long long>(f.switches),
      static_cast<unsigned long long>(f.drop_requests),
      static_cast<unsigned long long>(f.forced_drops),
      static_cast<unsigned long long>(f.voluntary_drops),
      static_cast<unsigned long long>(f.futile_wakeups),
      static_cast<unsigned long long>(f.awake_takes), f.wait_time, f.hold_time, f.longest_wait,
      f.wait_p50, f.wait_p99);
}

// json_sites() is an attribution table (Stats::holders or ::waiters) as a
// JSON array, the same fields as gil.stats()'s lists.
std::string json_sites(const std::vector<GilSite>& sites) {
  std::string out = "[";
  for (const GilSite& site : sites) {
    if (out.size() > 1) out += ',';
    out += "{\"where\":" + json_string(site.where) + ",\"function\":" + json_string(site.function) +
           format(",\"total\":%.6f,\"count\":%llu,\"longest\":%.6f}", site.total,
                  static_cast<unsigned long long>(site.count), site.longest);
  }
  return out + "]";
}

}  // namespace

void print_stats_json(std::ostream& out, const Stats& s) {
  out << "{\"policy\":" << json_string(s.policy)
      << format(",\"elapsed\":%.6f,\"switch_interval\":%.9f,\"gil_load\":%.6f,"
                "\"switches_per_second\":%.3f,",
                s.elapsed, std::chrono::duration<double>(s.switch_interval).count(), s.gil_load,
                s.switches_per_second)
      << json_figures(s) << (s.partial ? ",\"partial\":true" : "") << ",\"threads\":[";
  bool first = true;
  for (const auto& [id, t] : s.threads) {
    out << (first ? "" : ",") << format("{\"id\":%llu,\"name\":", static_cast<unsigned long long>(id))
        << json_string(t.name) << "," << json_figures(t) << "}";
    first = false;
  }
  out << "],\"holders\":" << json_sites(s.holders) << ",\"waiters\":" << json_sites(s.waiters)
      << "}\n";
}

}  // namespace gilrun::cli
