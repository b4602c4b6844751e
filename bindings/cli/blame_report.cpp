#include "blame_report.h"

#include <string>
#include <vector>

#include "text_format.h"

namespace gilrun::cli {
namespace {

std::string ms(double seconds) { return format("%.1f ms", seconds * 1e3); }

// cell() is `text` cut or padded to `width` bytes, control characters shown
// as '?', so a column stays a column.
std::string cell(const std::string& text, size_t width) {
  std::string c = text.substr(0, width);
  for (char& ch : c) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  }
  return c + std::string(width - c.size(), ' ');
}

void print_table(std::ostream& out, const char* title, const std::vector<GilSite>& sites,
                 size_t rows) {
  if (sites.empty()) return;
  double sum = 0;
  for (const GilSite& s : sites) sum += s.total;
  out << title << "\n";
  const char* row = "%s %s %11s %6s %7s %11s\n";
  out << format(row, cell("line", 28).c_str(), cell("function", 40).c_str(), "total",
                "share", "count", "longest");
  for (size_t i = 0; i < sites.size() && i < rows; ++i) {
    const GilSite& s = sites[i];
    out << format(row, cell(s.where, 28).c_str(), cell(s.function, 40).c_str(),
                  ms(s.total).c_str(),
                  (sum > 0 ? format("%.1f%%", 100.0 * s.total / sum) : std::string("-")).c_str(),
                  std::to_string(s.count).c_str(), ms(s.longest).c_str());
  }
}

}  // namespace

void print_blame_tables(std::ostream& out, const Stats& s, size_t rows) {
  if (s.holders.empty() && s.waiters.empty()) return;
  out << "\n";
  print_table(out, "GIL held while others waited (from the drop request to the drop):",
              s.holders, rows);
  if (!s.holders.empty() && !s.waiters.empty()) out << "\n";
  print_table(out, "waited for the GIL at:", s.waiters, rows);
}

void write_gil_profile(std::ostream& out, const Stats& s) {
  for (const GilStack& stack : s.gil_profile) {
    out << stack.stack << ' ' << stack.microseconds << '\n';
  }
}

}  // namespace gilrun::cli
