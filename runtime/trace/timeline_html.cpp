// timeline_html.cpp — a Timeline as ONE self-contained HTML page with
// Beazley-style GIL bars (one horizontal bar per thread, green while it runs,
// red while it waits for the GIL, light grey while it is blocked).
//
// Notes
// -----
// The page has no external references at all: inline CSS (timeline.css), an
// inline script (timeline.js; both compiled in by cmake/embed.cmake)
// that draws onto a <canvas>, the data as a JSON literal in
// <script type="application/json" id="gilrun-data">, and a
// Content-Security-Policy that forbids the page from loading anything.
// Static parts (title, summary cards, legend, the per-thread totals table)
// are plain HTML written here; the bars, markers, waiting-threads counter and
// the time axis are drawn by the script, which also builds one
// <div class="lane" data-thread="ID"> label per thread and, once drawn, sets
// <body data-rendered="N"> (N = lanes drawn), <canvas data-lanes="N"> and
// window.gilrunTimeline = {lanes: N, ...} (what the browser test checks).
//
// Downsampling — the embedded data is bounded whatever the input:
// - The run [0, end) is cut into C equal columns per lane, C = 3000 for up to
//   8 threads and fewer for more threads (C × lanes ≤ 24,000, C ≥ 80). At
//   most 300 lanes are drawn: beyond that the busiest 300 (running + waiting
//   time) are kept, in their original order, and the page says how many are
//   left out (the Chrome trace has every thread).
// - A lane with at most 2C slices is embedded exactly.
// - Otherwise a slice at least one column long is still embedded exactly
//   (there can be at most C+1 of those), and every shorter slice is folded
//   into its column(s) as time per state: per non-empty column the share of
//   the column spent running / waiting / blocked in short slices, in per
//   mille (a non-zero share is at least 1‰, so a single short running slice
//   stays visible). The renderer adds both into per-pixel time per state and
//   draws each pixel column as stacked shares, so a column where threads
//   thrash shows green and red together, and one pure state fills the bar.
// - Markers (drop requests, forced drops): exact when at most 2C per lane,
//   else the first of each kind per column.
// - The waiting-threads counter: exact when at most 6000 steps, else the
//   peak per column over 3000 columns.
// - Names, the title and summary texts are cut to a few dozen bytes.
// So a lane costs at most ~(C+1) exact slices + C columns + 2C markers:
// about 70 bytes × C, i.e. under ~1.7 MB of data for any input. Measured
// (tests/timeline_test.cpp): 4 thrashing threads × 200K slices and 400K
// markers over 10 s -> ~0.4 MB page; 1,000 threads -> ~1.1 MB page.
//
// Embedded data (all times integer nanoseconds since the start of the run;
// lists are flat number arrays, positions delta-coded from the previous
// entry to keep them short):
//   {"title":..., "endNs":E, "columnNs":W, "columns":C,
//    "threadsTotal":T, "threadsShown":N, "waitingMax":M,
//    "lanes":[{"thread":ID, "name":"...", "exact":true|false,
//              "slices":[startDelta, duration, state, ...],   state 0 running,
//                                                             1 waiting, 2 blocked
//              "mix":[columnDelta, runningPermille, waitingPermille,
//                     blockedPermille, ...],
//              "marks":[atDelta, kind, site, ...]}],           kind 0 drop request,
//                                                             1 forced drop; site an
//                                                             index into "sites", or -1
//    "waiting":[atDelta, count, ...],
//    "sites":["file.lua:12 (function)", ...]}                 where forced drops were
// The attribution tables (Timeline::holders/waiters: who held the GIL while
// others waited, where they waited) are plain HTML tables below the bars.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "trace/json_string.h"
#include "trace/timeline.h"

namespace gilrun {
namespace embedded {
extern const char timeline_css[];  // trace/timeline.css
extern const char timeline_js[];   // trace/timeline.js
}  // namespace embedded

namespace {

// ---------------------------------------------------------------------------
// Budgets

constexpr int64_t kMaxColumnsPerLane = 3000;
constexpr int64_t kMinColumnsPerLane = 80;
constexpr int64_t kColumnBudget = 24000;  // columns × lanes
constexpr size_t kMaxLanesShown = kColumnBudget / kMinColumnsPerLane;  // 300
constexpr int64_t kWaitingColumns = 3000;
constexpr size_t kMaxNameBytes = 80;
constexpr size_t kMaxTitleBytes = 300;
constexpr size_t kMaxSummaryEntries = 48;
constexpr size_t kMaxSummaryTextBytes = 80;
constexpr size_t kMaxSites = 1000;          // embedded drop sites
constexpr size_t kMaxSiteBytes = 160;
constexpr size_t kMaxSiteRows = 10;         // rows per attribution table

constexpr int kStates = 3;

int state_index(ThreadActivity a) {
  switch (a) {
    case ThreadActivity::running: return 0;
    case ThreadActivity::waiting: return 1;
    case ThreadActivity::blocked: return 2;
  }
  return 2;
}

int mark_index(TimelineMark m) { return m == TimelineMark::drop_request ? 0 : 1; }

// ---------------------------------------------------------------------------
// Small text helpers

// At most max_bytes of text, cut at a UTF-8 character boundary, with "…".
std::string truncated(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "\xE2\x80\xA6";
}

void write_html_text(std::ostream& out, const std::string& text) {
  for (char c : text) {
    switch (c) {
      case '&': out << "&amp;"; break;
      case '<': out << "&lt;"; break;
      case '>': out << "&gt;"; break;
      case '"': out << "&quot;"; break;
      case '\'': out << "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
          out << ' ';
        } else {
          out.put(c);
        }
    }
  }
}

std::string format_ms(int64_t ns) {
  char text[48];
  std::snprintf(text, sizeof text, "%.1f ms", static_cast<double>(ns) / 1e6);
  return text;
}

std::string format_percent(int64_t part, int64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%",
                whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

// A JSON array of integers, buffered and streamed: "[1,2,3]".
class IntArrayWriter {
 public:
  explicit IntArrayWriter(std::ostream& out) : out_(out) { out_.put('['); }
  ~IntArrayWriter() { close(); }
  void add(int64_t value) {
    if (end_ - cursor_ < 24) flush();
    if (!first_) *cursor_++ = ',';
    first_ = false;
    cursor_ = std::to_chars(cursor_, end_, value).ptr;
  }
  void close() {
    if (closed_) return;
    flush();
    out_.put(']');
    closed_ = true;
  }

 private:
  void flush() {
    out_.write(buffer_, cursor_ - buffer_);
    cursor_ = buffer_;
  }
  std::ostream& out_;
  char buffer_[4096];
  char* cursor_ = buffer_;
  char* const end_ = buffer_ + sizeof buffer_;
  bool first_ = true;
  bool closed_ = false;
};

// ---------------------------------------------------------------------------
// The column grid

struct ColumnGrid {
  int64_t column_ns = 1;
  int64_t columns = 1;

  int64_t column_of(int64_t at_ns) const {
    return std::clamp<int64_t>(at_ns / column_ns, 0, columns - 1);
  }
  int64_t column_start(int64_t column) const { return column * column_ns; }
};

// `columns` columns of a whole number of nanoseconds covering [0, end_ns).
ColumnGrid make_grid(int64_t end_ns, int64_t columns) {
  ColumnGrid grid;
  grid.column_ns = std::max<int64_t>(1, (end_ns + columns - 1) / columns);
  grid.columns = std::max<int64_t>(1, (end_ns + grid.column_ns - 1) / grid.column_ns);
  return grid;
}

int64_t columns_per_lane(size_t lanes_shown) {
  if (lanes_shown == 0) return kMaxColumnsPerLane;
  return std::clamp<int64_t>(kColumnBudget / static_cast<int64_t>(lanes_shown),
                             kMinColumnsPerLane, kMaxColumnsPerLane);
}

// The end of the run: the declared duration, or the last thing recorded.
int64_t timeline_end_ns(const Timeline& timeline) {
  int64_t end = timeline.duration_ns;
  for (const TimelineLane& lane : timeline.lanes) {
    if (!lane.slices.empty()) end = std::max(end, lane.slices.back().end_ns);
    if (!lane.instants.empty()) end = std::max(end, lane.instants.back().at_ns);
  }
  if (!timeline.waiting.empty()) end = std::max(end, timeline.waiting.back().first);
  return std::max<int64_t>(end, 1);
}

// ---------------------------------------------------------------------------
// Per-thread totals (exact, for the table under the chart)

struct LaneTotals {
  std::array<int64_t, kStates> ns{};
  size_t slices = 0;
  std::array<size_t, 2> marks{};
};

LaneTotals lane_totals(const TimelineLane& lane) {
  LaneTotals totals;
  for (const TimelineSlice& slice : lane.slices) {
    if (slice.end_ns < slice.start_ns) continue;
    totals.ns[state_index(slice.activity)] += slice.end_ns - slice.start_ns;
    ++totals.slices;
  }
  for (const TimelineInstant& instant : lane.instants) ++totals.marks[mark_index(instant.mark)];
  return totals;
}

// Indices of the lanes to draw, in their original order: all of them, or the
// busiest kMaxLanesShown.
std::vector<size_t> lanes_to_show(const std::vector<LaneTotals>& totals) {
  std::vector<size_t> order(totals.size());
  std::iota(order.begin(), order.end(), 0);
  if (order.size() <= kMaxLanesShown) return order;
  const auto busy = [&](size_t i) { return totals[i].ns[0] + totals[i].ns[1]; };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return busy(a) > busy(b); });
  order.resize(kMaxLanesShown);
  std::sort(order.begin(), order.end());
  return order;
}

// ---------------------------------------------------------------------------
// One lane's embedded data

bool lane_is_exact(const TimelineLane& lane, const ColumnGrid& grid) {
  return static_cast<int64_t>(lane.slices.size()) <= 2 * grid.columns;
}

bool keeps_exact_slice(const TimelineSlice& slice, bool exact_lane, const ColumnGrid& grid) {
  return exact_lane || slice.end_ns - slice.start_ns >= grid.column_ns;
}

void write_exact_slices(std::ostream& out, const TimelineLane& lane, bool exact_lane,
                        const ColumnGrid& grid) {
  IntArrayWriter array(out);
  int64_t previous_start = 0;
  for (const TimelineSlice& slice : lane.slices) {
    if (slice.end_ns < slice.start_ns || !keeps_exact_slice(slice, exact_lane, grid)) continue;
    array.add(slice.start_ns - previous_start);
    array.add(slice.end_ns - slice.start_ns);
    array.add(state_index(slice.activity));
    previous_start = slice.start_ns;
  }
}

using ColumnTimes = std::vector<std::array<int64_t, kStates>>;

// Time per state that the slices shorter than a column spend in each column.
ColumnTimes short_slice_time_per_column(const TimelineLane& lane, const ColumnGrid& grid) {
  ColumnTimes times(static_cast<size_t>(grid.columns), std::array<int64_t, kStates>{});
  for (const TimelineSlice& slice : lane.slices) {
    if (slice.end_ns <= slice.start_ns || keeps_exact_slice(slice, false, grid)) continue;
    const int state = state_index(slice.activity);
    const int64_t start = std::max<int64_t>(slice.start_ns, 0);
    for (int64_t column = grid.column_of(start); column < grid.columns; ++column) {
      const int64_t column_start = grid.column_start(column);
      if (column_start >= slice.end_ns) break;
      const int64_t overlap = std::min(slice.end_ns, column_start + grid.column_ns) -
                              std::max(start, column_start);
      if (overlap > 0) times[static_cast<size_t>(column)][state] += overlap;
    }
  }
  return times;
}

int64_t permille_of_column(int64_t ns, const ColumnGrid& grid) {
  if (ns <= 0) return 0;
  const int64_t permille = (ns * 1000 + grid.column_ns / 2) / grid.column_ns;
  return std::clamp<int64_t>(permille, 1, 1000);
}

void write_mix(std::ostream& out, const TimelineLane& lane, bool exact_lane,
               const ColumnGrid& grid) {
  IntArrayWriter array(out);
  if (exact_lane) return;
  const ColumnTimes times = short_slice_time_per_column(lane, grid);
  int64_t previous_column = 0;
  for (size_t column = 0; column < times.size(); ++column) {
    const auto& t = times[column];
    if (t[0] == 0 && t[1] == 0 && t[2] == 0) continue;
    array.add(static_cast<int64_t>(column) - previous_column);
    for (int state = 0; state < kStates; ++state) array.add(permille_of_column(t[state], grid));
    previous_column = static_cast<int64_t>(column);
  }
}

void write_marks(std::ostream& out, const TimelineLane& lane, const ColumnGrid& grid) {
  IntArrayWriter array(out);
  const bool thin = static_cast<int64_t>(lane.instants.size()) > 2 * grid.columns;
  std::array<int64_t, 2> last_column{-1, -1};
  int64_t previous_at = 0;
  for (const TimelineInstant& instant : lane.instants) {
    const int kind = mark_index(instant.mark);
    if (thin) {
      const int64_t column = grid.column_of(instant.at_ns);
      if (column == last_column[kind]) continue;
      last_column[kind] = column;
    }
    array.add(instant.at_ns - previous_at);
    array.add(kind);
    array.add(instant.site >= 0 && static_cast<size_t>(instant.site) < kMaxSites ? instant.site : -1);
    previous_at = instant.at_ns;
  }
}

void write_lane(std::ostream& out, const TimelineLane& lane, const ColumnGrid& grid) {
  const bool exact = lane_is_exact(lane, grid);
  out << "{\"thread\":" << lane.thread_id << ",\"name\":";
  write_json_string(out, truncated(lane.name, kMaxNameBytes), true);
  out << ",\"exact\":" << (exact ? "true" : "false") << ",\n\"slices\":";
  write_exact_slices(out, lane, exact, grid);
  out << ",\n\"mix\":";
  write_mix(out, lane, exact, grid);
  out << ",\n\"marks\":";
  write_marks(out, lane, grid);
  out << '}';
}

// ---------------------------------------------------------------------------
// The waiting-threads counter

int waiting_max(const Timeline& timeline) {
  int peak = 0;
  for (const auto& step : timeline.waiting) peak = std::max(peak, step.second);
  return peak;
}

// Steps as [atDelta, count, ...]: exact, or the peak per column.
void write_waiting(std::ostream& out, const Timeline& timeline, int64_t end_ns) {
  IntArrayWriter array(out);
  int64_t previous_at = 0;
  const auto add_step = [&](int64_t at, int64_t count) {
    array.add(at - previous_at);
    array.add(count);
    previous_at = at;
  };
  if (static_cast<int64_t>(timeline.waiting.size()) <= 2 * kWaitingColumns) {
    for (const auto& [at, count] : timeline.waiting) add_step(at, count);
    return;
  }
  const ColumnGrid grid = make_grid(end_ns, kWaitingColumns);
  std::vector<int64_t> peak(static_cast<size_t>(grid.columns), -1);
  std::vector<int64_t> last(static_cast<size_t>(grid.columns), -1);
  for (const auto& [at, count] : timeline.waiting) {
    const auto column = static_cast<size_t>(grid.column_of(at));
    peak[column] = std::max<int64_t>(peak[column], count);
    last[column] = count;
  }
  int64_t carried = 0;  // the count when a column starts
  int64_t drawn = -1;
  for (size_t column = 0; column < peak.size(); ++column) {
    const int64_t value = peak[column] < 0 ? carried : std::max(carried, peak[column]);
    if (value != drawn) add_step(grid.column_start(static_cast<int64_t>(column)), value);
    drawn = value;
    if (last[column] >= 0) carried = last[column];
  }
}

// ---------------------------------------------------------------------------
// The page. Its style and renderer are real files beside this one
// (timeline.css, timeline.js), compiled in at build time (cmake/embed.cmake).


void write_head(std::ostream& out, const std::string& title) {
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "script-src 'unsafe-inline'; style-src 'unsafe-inline'\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<title>GIL timeline";
  if (!title.empty()) {
    out << " \xE2\x80\x94 ";
    write_html_text(out, title);
  }
  out << "</title>\n<style>" << embedded::timeline_css << "</style>\n</head>\n";
}

void write_header(std::ostream& out, const Timeline& timeline, const std::string& title,
                  int64_t end_ns) {
  out << "<body>\n<header><h1>GIL timeline</h1><span class=\"run-title\">";
  write_html_text(out, title);
  out << "</span></header>\n<ul class=\"summary\">\n";
  out << "<li class=\"card\"><div class=\"key\">duration</div><div class=\"value\">"
      << format_ms(end_ns) << "</div></li>\n";
  out << "<li class=\"card\"><div class=\"key\">threads</div><div class=\"value\">"
      << timeline.lanes.size() << "</div></li>\n";
  const size_t entries = std::min(timeline.summary.size(), kMaxSummaryEntries);
  for (size_t i = 0; i < entries; ++i) {
    out << "<li class=\"card\"><div class=\"key\">";
    write_html_text(out, truncated(timeline.summary[i].first, kMaxSummaryTextBytes));
    out << "</div><div class=\"value\">";
    write_html_text(out, truncated(timeline.summary[i].second, kMaxSummaryTextBytes));
    out << "</div></li>\n";
  }
  out << "</ul>\n";
}

void write_legend(std::ostream& out, bool downsampled, const ColumnGrid& grid) {
  out << "<div class=\"legend\">"
         "<span class=\"item\"><span class=\"swatch running\"></span>running (holds the GIL)</span>"
         "<span class=\"item\"><span class=\"swatch waiting\"></span>waiting for the GIL</span>"
         "<span class=\"item\"><span class=\"swatch blocked\"></span>blocked (sleep, I/O, join)</span>"
         "<span class=\"item\"><span class=\"swatch idle\"></span>not recorded</span>"
         "<span class=\"item\"><span class=\"tri drop\"></span>drop request</span>"
         "<span class=\"item\"><span class=\"tri forced\"></span>forced drop</span>";
  if (downsampled) {
    char column[48];
    std::snprintf(column, sizeof column, "%.3g ms", static_cast<double>(grid.column_ns) / 1e6);
    out << "<span class=\"note\">Slices shorter than " << column
        << " are drawn as each state's share of the time (stacked).</span>";
  }
  out << "</div>\n";
}

void write_chart_skeleton(std::ostream& out, size_t lanes_shown, size_t lanes_total) {
  out << "<div class=\"toolbar\"><span id=\"view-range\"></span>"
         "<button type=\"button\" id=\"zoom-out\">Zoom out</button>"
         "<button type=\"button\" id=\"zoom-reset\">Reset</button>"
         "<span class=\"note\">Scroll to zoom, drag across the bars to zoom into a range, "
         "double-click to reset; hover for details.</span></div>\n";
  if (lanes_shown < lanes_total) {
    out << "<p class=\"note\">Showing the " << lanes_shown << " busiest of " << lanes_total
        << " threads; the Chrome trace has all of them.</p>\n";
  }
  out << "<div id=\"message\" hidden></div>\n"
         "<div class=\"chart\"><div id=\"labels\"></div>"
         "<div id=\"plot\"><canvas id=\"timeline-canvas\" data-lanes=\"0\"></canvas>"
         "<div id=\"selection\" hidden></div></div></div>\n"
         "<div id=\"tooltip\" hidden></div>\n";
}

void write_thread_table(std::ostream& out, const Timeline& timeline,
                        const std::vector<LaneTotals>& totals, const std::vector<size_t>& shown,
                        int64_t end_ns) {
  out << "<table class=\"threads\">\n<thead><tr><th>thread</th><th>id</th><th>running</th>"
         "<th>waiting</th><th>blocked</th><th>slices</th><th>drop requests</th>"
         "<th>forced drops</th></tr></thead>\n<tbody>\n";
  for (size_t index : shown) {
    const TimelineLane& lane = timeline.lanes[index];
    const LaneTotals& t = totals[index];
    out << "<tr><td>";
    write_html_text(out, truncated(lane.name, kMaxNameBytes));
    out << "</td><td>" << lane.thread_id << "</td>";
    for (int state = 0; state < kStates; ++state) {
      out << "<td>" << format_ms(t.ns[state]) << " (" << format_percent(t.ns[state], end_ns)
          << ")</td>";
    }
    out << "<td>" << t.slices << "</td><td>" << t.marks[0] << "</td><td>" << t.marks[1]
        << "</td></tr>\n";
  }
  out << "</tbody></table>\n";
}

// write_site_table() is one attribution table (gil.stats().holders or
// .waiters): the top lines with their total, share, count and longest.
void write_site_table(std::ostream& out, const char* id, const char* title,
                      const std::vector<GilSite>& rows) {
  double total = 0;
  for (const GilSite& row : rows) total += row.total;
  out << "<h2 class=\"sites-title\">" << title << "</h2>\n<table class=\"threads sites\" id=\"" << id
      << "\">\n<thead><tr><th>line</th><th>function</th><th>total</th><th>share</th>"
         "<th>count</th><th>longest</th></tr></thead>\n<tbody>\n";
  const auto ns = [](double seconds) { return static_cast<int64_t>(seconds * 1e9); };
  for (size_t i = 0; i < rows.size() && i < kMaxSiteRows; ++i) {
    const GilSite& row = rows[i];
    out << "<tr><td>";
    write_html_text(out, truncated(row.where, kMaxSiteBytes));
    out << "</td><td>";
    write_html_text(out, truncated(row.function, kMaxSiteBytes));
    out << "</td><td>" << format_ms(ns(row.total)) << "</td><td>"
        << format_percent(ns(row.total), ns(total)) << "</td><td>" << row.count << "</td><td>"
        << format_ms(ns(row.longest)) << "</td></tr>\n";
  }
  if (rows.empty()) out << "<tr><td colspan=\"6\">nobody waited</td></tr>\n";
  out << "</tbody></table>\n";
}

void write_site_tables(std::ostream& out, const Timeline& timeline) {
  write_site_table(out, "held-table", "GIL held while others waited (from the drop request to the drop)",
                   timeline.holders);
  write_site_table(out, "waited-table", "waited for the GIL at", timeline.waiters);
}

void write_data(std::ostream& out, const Timeline& timeline, const std::string& title,
                const std::vector<size_t>& shown, const ColumnGrid& grid, int64_t end_ns) {
  out << "<script type=\"application/json\" id=\"gilrun-data\">\n{\"title\":";
  write_json_string(out, title, true);
  out << ",\"endNs\":" << end_ns << ",\"columnNs\":" << grid.column_ns
      << ",\"columns\":" << grid.columns << ",\"threadsTotal\":" << timeline.lanes.size()
      << ",\"threadsShown\":" << shown.size() << ",\"waitingMax\":" << waiting_max(timeline)
      << ",\n\"lanes\":[";
  for (size_t i = 0; i < shown.size(); ++i) {
    out << (i == 0 ? "\n" : ",\n");
    write_lane(out, timeline.lanes[shown[i]], grid);
  }
  out << "],\n\"waiting\":";
  write_waiting(out, timeline, end_ns);
  out << ",\n\"sites\":[";
  const size_t sites = std::min(timeline.sites.size(), kMaxSites);
  for (size_t i = 0; i < sites; ++i) {
    if (i > 0) out << ',';
    write_json_string(out, truncated(timeline.sites[i], kMaxSiteBytes), true);
  }
  out << "]}\n</script>\n";
}


}  // namespace

void write_timeline_html(std::ostream& out, const Timeline& timeline) {
  const int64_t end_ns = timeline_end_ns(timeline);
  const std::string title = truncated(timeline.title, kMaxTitleBytes);
  std::vector<LaneTotals> totals;
  totals.reserve(timeline.lanes.size());
  for (const TimelineLane& lane : timeline.lanes) totals.push_back(lane_totals(lane));
  const std::vector<size_t> shown = lanes_to_show(totals);
  const ColumnGrid grid = make_grid(end_ns, columns_per_lane(shown.size()));
  const bool downsampled = std::any_of(shown.begin(), shown.end(), [&](size_t i) {
    return !lane_is_exact(timeline.lanes[i], grid);
  });

  write_head(out, title);
  write_header(out, timeline, title, end_ns);
  write_legend(out, downsampled, grid);
  write_chart_skeleton(out, shown.size(), timeline.lanes.size());
  write_thread_table(out, timeline, totals, shown, end_ns);
  write_site_tables(out, timeline);
  write_data(out, timeline, title, shown, grid, end_ns);
  out << "<script>" << embedded::timeline_js << "</script>\n</body>\n</html>\n";
}

}  // namespace gilrun
