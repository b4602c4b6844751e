// timeline_html.cpp — a Timeline as ONE self-contained HTML page with
// Beazley-style GIL bars (one horizontal bar per thread, green while it runs,
// red while it waits for the GIL, light grey while it is blocked).
//
// Notes
// -----
// The page has no external references at all: inline CSS, an inline script
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
//              "marks":[atDelta, kind, ...]}],                 kind 0 drop request,
//                                                             1 forced drop
//    "waiting":[atDelta, count, ...]}
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
// The page

const char kStyle[] = R"CSS(
:root { --running:#2e9e44; --waiting:#d93a2b; --blocked:#cfd3d8; --idle:#f2f3f5;
        --drop:#f59e0b; --forced:#1f2937; --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; }
* { box-sizing: border-box; }
body { margin: 14px 20px 24px; font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto,
       "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
header { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; margin-bottom: 8px; }
h1 { font-size: 18px; margin: 0; font-weight: 650; }
.run-title { color: var(--muted); font-size: 14px; overflow-wrap: anywhere; }
.summary { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 10px; padding: 0; list-style: none; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; background: #fafafa; min-width: 90px; }
.card .key { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 16px; font-weight: 600; font-variant-numeric: tabular-nums; }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 18px; margin-bottom: 6px; }
.legend .item { display: inline-flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 22px; height: 12px; border-radius: 2px; }
.swatch.running { background: var(--running); } .swatch.waiting { background: var(--waiting); }
.swatch.blocked { background: var(--blocked); } .swatch.idle { background: var(--idle); border: 1px solid var(--line); }
.tri { width: 0; height: 0; border-left: 6px solid transparent; border-right: 6px solid transparent; }
.tri.drop { border-top: 8px solid var(--drop); } .tri.forced { border-bottom: 8px solid var(--forced); }
.note { color: var(--muted); }
.toolbar { display: flex; align-items: center; gap: 10px; margin: 8px 0 4px; flex-wrap: wrap; }
.toolbar button { font: inherit; padding: 2px 10px; border: 1px solid #cbd5e1; border-radius: 4px; background: #fff; cursor: pointer; }
.toolbar button:hover { background: #f1f5f9; }
#view-range { font-variant-numeric: tabular-nums; }
.chart { display: flex; align-items: flex-start; border-top: 1px solid var(--line); padding-top: 4px; }
#labels { flex: 0 0 180px; width: 180px; }
.lane:nth-child(even) { background: #f8fafc; }
.lane, .counter-label { display: flex; align-items: center; justify-content: flex-end; gap: 6px;
        padding-right: 10px; white-space: nowrap; overflow: hidden; }
.lane .name { overflow: hidden; text-overflow: ellipsis; font-weight: 600; }
.lane .tid, .counter-label { color: var(--muted); font-size: 11px; }
#plot { flex: 1 1 auto; min-width: 200px; position: relative; }
#timeline-canvas { display: block; cursor: crosshair; }
#selection { position: absolute; top: 0; bottom: 0; background: rgba(59,130,246,.15);
        border-left: 1px solid #3b82f6; border-right: 1px solid #3b82f6; pointer-events: none; }
#tooltip { position: fixed; z-index: 10; pointer-events: none; background: rgba(17,24,39,.94); color: #f9fafb;
        padding: 6px 9px; border-radius: 5px; font-size: 12px; line-height: 1.45; max-width: 420px;
        box-shadow: 0 2px 8px rgba(0,0,0,.25); font-variant-numeric: tabular-nums; }
#tooltip .head { font-weight: 600; }
#message { color: #b91c1c; font-weight: 600; margin: 8px 0; }
table.threads { border-collapse: collapse; margin-top: 18px; font-variant-numeric: tabular-nums; }
table.threads th, table.threads td { border-bottom: 1px solid var(--line); padding: 3px 10px; text-align: right; }
table.threads th:first-child, table.threads td:first-child { text-align: left; }
table.threads th { font-size: 11px; text-transform: uppercase; color: var(--muted); font-weight: 600; }
)CSS";

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
  out << "</title>\n<style>" << kStyle << "</style>\n</head>\n";
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
  out << "}\n</script>\n";
}

// The renderer. Reads #gilrun-data, draws the lanes onto the canvas, wires
// zoom and tooltips. Plain ES5-style JS so any browser runs it.
const char kScript[] = R"JS(
(function () {
  'use strict';
  var STATE_NAMES = ['running', 'waiting', 'blocked'];
  var MARK_NAMES = ['drop request', 'forced drop'];
  var COLOURS = ['#2e9e44', '#d93a2b', '#cfd3d8'];
  var IDLE = '#f2f3f5', DROP = '#f59e0b', FORCED = '#1f2937', GRID = '#e5e7eb', ZEBRA = '#f8fafc';
  var AXIS_H = 24, COUNTER_GAP = 10, COUNTER_H = 52, BOTTOM_H = 24, MIN_SPAN_NS = 1000;

  var body = document.body;
  try {
    main();
  } catch (err) {
    body.dataset.renderError = String((err && err.message) || err);
    var message = document.getElementById('message');
    message.textContent = 'Could not draw the timeline: ' + body.dataset.renderError;
    message.hidden = false;
    throw err;
  }

  function main() {
    var data = JSON.parse(document.getElementById('gilrun-data').textContent);
    var lanes = data.lanes.map(decodeLane);
    var steps = decodeSteps(data.waiting);
    var canvas = document.getElementById('timeline-canvas');
    var plot = document.getElementById('plot');
    var selection = document.getElementById('selection');
    var tooltip = document.getElementById('tooltip');
    var ctx = canvas.getContext('2d');
    var view = { t0: 0, t1: data.endNs };
    var rowH = Math.max(14, Math.min(46, Math.floor(320 / Math.max(1, lanes.length))));
    var width = 0;

    buildLabels();
    draw();
    body.dataset.rendered = String(lanes.length);
    canvas.dataset.lanes = String(lanes.length);
    window.gilrunTimeline = { lanes: lanes.length, data: data, view: view, redraw: draw, zoomTo: zoomTo };
    installInteraction();

    // ---- decoding -------------------------------------------------------
    function decodeLane(raw) {
      var n = raw.slices.length / 3, starts = new Float64Array(n), ends = new Float64Array(n),
          states = new Uint8Array(n), t = 0, i;
      for (i = 0; i < n; i++) {
        t += raw.slices[3 * i];
        starts[i] = t; ends[i] = t + raw.slices[3 * i + 1]; states[i] = raw.slices[3 * i + 2];
      }
      var m = raw.mix.length / 4, columns = new Float64Array(m), shares = new Float32Array(m * 3), c = 0;
      for (i = 0; i < m; i++) {
        c += raw.mix[4 * i]; columns[i] = c;
        for (var k = 0; k < 3; k++) shares[3 * i + k] = raw.mix[4 * i + 1 + k] / 1000;
      }
      var q = raw.marks.length / 2, markAt = new Float64Array(q), markKind = new Uint8Array(q);
      t = 0;
      for (i = 0; i < q; i++) { t += raw.marks[2 * i]; markAt[i] = t; markKind[i] = raw.marks[2 * i + 1]; }
      return { thread: raw.thread, name: raw.name, exact: raw.exact, starts: starts, ends: ends,
               states: states, columns: columns, shares: shares, markAt: markAt, markKind: markKind };
    }
    function decodeSteps(flat) {
      var n = flat.length / 2, at = new Float64Array(n), value = new Float64Array(n), t = 0;
      for (var i = 0; i < n; i++) { t += flat[2 * i]; at[i] = t; value[i] = flat[2 * i + 1]; }
      return { at: at, value: value };
    }
    // First index whose value is > x (sorted array).
    function upperBound(array, x) {
      var lo = 0, hi = array.length;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (array[mid] <= x) lo = mid + 1; else hi = mid; }
      return lo;
    }

    // ---- layout -----------------------------------------------------------
    function rowTop(index) { return AXIS_H + index * rowH; }
    function rowGeometry(index) {
      var markH = rowH >= 26 ? 7 : 0, top = rowTop(index);
      return { markH: markH, barTop: top + markH + 2, barH: rowH - 2 * markH - 4 };
    }
    function counterTop() { return AXIS_H + lanes.length * rowH + COUNTER_GAP; }
    function canvasHeight() { return counterTop() + COUNTER_H + BOTTOM_H; }
    function xOf(t) { return (t - view.t0) * width / (view.t1 - view.t0); }
    function tOf(x) { return view.t0 + x * (view.t1 - view.t0) / width; }

    function buildLabels() {
      var labels = document.getElementById('labels');
      labels.style.paddingTop = AXIS_H + 'px';
      lanes.forEach(function (lane) {
        var div = document.createElement('div');
        div.className = 'lane';
        div.dataset.thread = String(lane.thread);
        div.style.height = rowH + 'px';
        div.title = lane.name + ' (thread ' + lane.thread + ')';
        var name = document.createElement('span');
        name.className = 'name';
        name.textContent = lane.name || ('thread ' + lane.thread);
        var tid = document.createElement('span');
        tid.className = 'tid';
        tid.textContent = '#' + lane.thread;
        div.appendChild(name);
        if (rowH >= 18) div.appendChild(tid);
        labels.appendChild(div);
      });
      var counter = document.createElement('div');
      counter.className = 'counter-label';
      counter.style.height = COUNTER_H + 'px';
      counter.style.marginTop = COUNTER_GAP + 'px';
      counter.textContent = 'waiting threads (max ' + data.waitingMax + ')';
      labels.appendChild(counter);
    }

    // ---- drawing ----------------------------------------------------------
    function draw() {
      width = Math.max(200, Math.floor(plot.clientWidth));
      var height = canvasHeight(), dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = width + 'px';
      canvas.style.height = height + 'px';
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, width, height);
      for (var row = 1; row < lanes.length; row += 2) {  // zebra rows keep markers with their bar
        ctx.fillStyle = ZEBRA;
        ctx.fillRect(0, rowTop(row), width, rowH);
      }
      var ticks = niceTicks(Math.max(2, Math.floor(width / 120)));
      drawGrid(ticks, height);
      for (var i = 0; i < lanes.length; i++) drawLane(lanes[i], i);
      drawCounter();
      drawAxis(ticks, 0, true);
      drawAxis(ticks, height - BOTTOM_H, false);
      document.getElementById('view-range').textContent =
          (view.t0 === 0 && view.t1 === data.endNs ? 'Whole run: ' : 'Showing ') +
          formatTime(view.t0) + ' \u2013 ' + formatTime(view.t1) + ' of ' + formatTime(data.endNs);
    }

    function drawLane(lane, index) {
      var g = rowGeometry(index);
      ctx.fillStyle = IDLE;
      ctx.fillRect(0, g.barTop, width, g.barH);
      paintColumns(timePerPixel(lane), g);
      if (g.markH) drawMarks(lane, g);
    }

    // Time per state in each pixel column, in pixel units (1 = the whole pixel).
    function timePerPixel(lane) {
      var acc = new Float32Array(width * 3), scale = width / (view.t1 - view.t0), i;
      for (i = Math.max(0, upperBound(lane.starts, view.t0) - 1);
           i < lane.starts.length && lane.starts[i] < view.t1; i++) {
        if (lane.ends[i] <= view.t0) continue;
        addSpan(acc, (lane.starts[i] - view.t0) * scale, (lane.ends[i] - view.t0) * scale, lane.states[i], 1);
      }
      var cn = data.columnNs;
      for (i = Math.max(0, upperBound(lane.columns, Math.floor(view.t0 / cn)) - 1);
           i < lane.columns.length && lane.columns[i] * cn < view.t1; i++) {
        var x0 = (lane.columns[i] * cn - view.t0) * scale, x1 = x0 + cn * scale;
        for (var k = 0; k < 3; k++) {
          if (lane.shares[3 * i + k] > 0) addSpan(acc, x0, x1, k, lane.shares[3 * i + k]);
        }
      }
      return acc;
    }
    function addSpan(acc, x0, x1, state, weight) {
      if (x1 <= 0 || x0 >= width || x1 <= x0) return;
      x0 = Math.max(0, x0); x1 = Math.min(width, x1);
      var first = Math.floor(x0), last = Math.min(width - 1, Math.ceil(x1) - 1);
      if (first >= last) { acc[first * 3 + state] += (x1 - x0) * weight; return; }
      acc[first * 3 + state] += (first + 1 - x0) * weight;
      for (var x = first + 1; x < last; x++) acc[x * 3 + state] += weight;
      acc[last * 3 + state] += (x1 - last) * weight;
    }

    // Each pixel column: the states stacked top-down by their share of the
    // pixel's time (running, waiting, blocked); runs of equal columns are
    // painted as one rectangle.
    function paintColumns(acc, g) {
      var h = [0, 0, 0], prev = [-1, -1, -1], runStart = 0;
      for (var x = 0; x <= width; x++) {
        if (x < width) stackHeights(acc, x, g.barH, h);
        if (x === width || h[0] !== prev[0] || h[1] !== prev[1] || h[2] !== prev[2]) {
          if (x > 0) paintRun(runStart, x, prev, g);
          runStart = x; prev[0] = h[0]; prev[1] = h[1]; prev[2] = h[2];
        }
      }
    }
    function stackHeights(acc, x, barH, h) {
      var f0 = acc[3 * x], f1 = acc[3 * x + 1], f2 = acc[3 * x + 2], total = f0 + f1 + f2;
      if (total > 1) { f0 /= total; f1 /= total; f2 /= total; }
      h[0] = shareHeight(f0, barH); h[1] = shareHeight(f1, barH); h[2] = shareHeight(f2, barH);
      while (h[0] + h[1] + h[2] > barH) {  // rounding up tiny shares overflowed: trim the tallest
        var tallest = h[0] >= h[1] && h[0] >= h[2] ? 0 : (h[1] >= h[2] ? 1 : 2);
        h[tallest]--;
      }
    }
    function shareHeight(share, barH) {
      if (share <= 0.0005) return 0;
      return Math.max(1, Math.round(share * barH));
    }
    function paintRun(x0, x1, h, g) {
      var y = g.barTop;
      for (var k = 0; k < 3; k++) {
        if (!h[k]) continue;
        ctx.fillStyle = COLOURS[k];
        ctx.fillRect(x0, y, x1 - x0, h[k]);
        y += h[k];
      }
    }

    function drawMarks(lane, g) {
      var lastPixel = [-1, -1], paths = [new Path2D(), new Path2D()], half = 4, barBottom = g.barTop + g.barH;
      for (var i = Math.max(0, upperBound(lane.markAt, view.t0) - 1); i < lane.markAt.length; i++) {
        var t = lane.markAt[i];
        if (t < view.t0) continue;
        if (t > view.t1) break;
        var kind = lane.markKind[i], px = Math.round(xOf(t));
        if (px === lastPixel[kind]) continue;
        lastPixel[kind] = px;
        var p = paths[kind];
        if (kind === 0) {  // drop request: pointing down at the bar's top
          p.moveTo(px - half, g.barTop - g.markH - 1); p.lineTo(px + half, g.barTop - g.markH - 1); p.lineTo(px, g.barTop - 1);
        } else {           // forced drop: pointing up at the bar's bottom
          p.moveTo(px - half, barBottom + g.markH + 1); p.lineTo(px + half, barBottom + g.markH + 1); p.lineTo(px, barBottom + 1);
        }
        p.closePath();
      }
      ctx.fillStyle = DROP; ctx.fill(paths[0]);
      ctx.fillStyle = FORCED; ctx.fill(paths[1]);
    }

    function drawCounter() {
      var top = counterTop(), peak = Math.max(1, data.waitingMax);
      var yOf = function (v) { return top + COUNTER_H - 2 - (COUNTER_H - 8) * v / peak; };
      ctx.fillStyle = '#fafafa';
      ctx.fillRect(0, top, width, COUNTER_H);
      ctx.strokeStyle = GRID; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(0, yOf(peak) + 0.5); ctx.lineTo(width, yOf(peak) + 0.5); ctx.stroke();
      var i = upperBound(steps.at, view.t0) - 1, value = i >= 0 ? steps.value[i] : 0;
      var path = new Path2D();
      path.moveTo(0, yOf(0)); path.lineTo(0, yOf(value));
      for (i = i + 1; i < steps.at.length && steps.at[i] < view.t1; i++) {
        var x = xOf(steps.at[i]);
        path.lineTo(x, yOf(value)); value = steps.value[i]; path.lineTo(x, yOf(value));
      }
      path.lineTo(width, yOf(value)); path.lineTo(width, yOf(0)); path.closePath();
      ctx.fillStyle = 'rgba(217,58,43,0.22)'; ctx.fill(path);
      ctx.strokeStyle = COLOURS[1]; ctx.lineWidth = 1.2; ctx.stroke(path);
    }

    // ---- the time axis ----------------------------------------------------
    function niceTicks(maxTicks) {
      var span = view.t1 - view.t0, raw = span / maxTicks;
      var magnitude = Math.pow(10, Math.floor(Math.log10(raw))), step = magnitude;
      [1, 2, 5, 10].some(function (m) { step = m * magnitude; return step >= raw; });
      var values = [];
      for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1 + step * 1e-9; t += step) values.push(t);
      return { step: step, values: values };
    }
    function tickUnit() {
      var span = view.t1 - view.t0;
      if (span >= 2e9) return [1e9, 's'];
      if (span >= 2e6) return [1e6, 'ms'];
      if (span >= 2e3) return [1e3, '\u00b5s'];
      return [1, 'ns'];
    }
    function formatTick(t, step) {
      var unit = tickUnit(), decimals = Math.max(0, Math.ceil(-Math.log10(step / unit[0]) - 1e-9));
      return (t / unit[0]).toFixed(Math.min(decimals, 6)) + ' ' + unit[1];
    }
    function drawGrid(ticks, height) {
      ctx.strokeStyle = GRID; ctx.lineWidth = 1;
      ctx.beginPath();
      ticks.values.forEach(function (t) {
        var x = Math.round(xOf(t)) + 0.5;
        ctx.moveTo(x, AXIS_H - 4); ctx.lineTo(x, height - BOTTOM_H + 4);
      });
      ctx.stroke();
    }
    function drawAxis(ticks, top, above) {
      ctx.fillStyle = '#374151'; ctx.font = '11px system-ui, sans-serif';
      ctx.textBaseline = above ? 'top' : 'bottom';
      ticks.values.forEach(function (t) {
        var x = xOf(t), label = formatTick(t, ticks.step), w = ctx.measureText(label).width;
        ctx.textAlign = 'left';
        ctx.fillText(label, Math.max(0, Math.min(width - w, x - w / 2)), above ? top + 5 : top + AXIS_H - 5);
      });
    }

    // ---- text -------------------------------------------------------------
    function formatTime(ns) {
      var a = Math.abs(ns);
      if (a === 0) return '0';
      if (a >= 1e9) return (ns / 1e9).toFixed(3) + ' s';
      if (a >= 1e6) return (ns / 1e6).toFixed(3) + ' ms';
      if (a >= 1e3) return (ns / 1e3).toFixed(1) + ' \u00b5s';
      return Math.round(ns) + ' ns';
    }
    function percent(share) { return Math.round(share * 100) + '%'; }

    // ---- interaction ------------------------------------------------------
    function zoomTo(t0, t1) {
      var span = Math.min(data.endNs, Math.max(MIN_SPAN_NS, t1 - t0));
      var start = Math.max(0, Math.min(data.endNs - span, t0));
      view.t0 = start; view.t1 = start + span;
      draw();
    }
    function pointer(ev) {
      var r = canvas.getBoundingClientRect();
      return { x: Math.max(0, Math.min(width, ev.clientX - r.left)), y: ev.clientY - r.top };
    }
    function installInteraction() {
      var dragFrom = null;
      canvas.addEventListener('wheel', function (ev) {
        ev.preventDefault();
        var x = pointer(ev).x, at = tOf(x), span = view.t1 - view.t0;
        var next = Math.min(data.endNs, Math.max(MIN_SPAN_NS, span * Math.pow(1.0015, ev.deltaY)));
        zoomTo(at - next * x / width, at - next * x / width + next);
      }, { passive: false });
      canvas.addEventListener('mousedown', function (ev) {
        if (ev.button !== 0) return;
        dragFrom = pointer(ev).x;
        ev.preventDefault();
      });
      window.addEventListener('mousemove', function (ev) {
        if (dragFrom === null) return;
        var x = pointer(ev).x;
        selection.hidden = false;
        selection.style.left = Math.min(x, dragFrom) + 'px';
        selection.style.width = Math.abs(x - dragFrom) + 'px';
      });
      window.addEventListener('mouseup', function (ev) {
        if (dragFrom === null) return;
        var x = pointer(ev).x, from = dragFrom;
        dragFrom = null;
        selection.hidden = true;
        if (Math.abs(x - from) >= 5) zoomTo(tOf(Math.min(x, from)), tOf(Math.max(x, from)));
      });
      canvas.addEventListener('dblclick', function () { zoomTo(0, data.endNs); });
      document.getElementById('zoom-reset').addEventListener('click', function () { zoomTo(0, data.endNs); });
      document.getElementById('zoom-out').addEventListener('click', function () {
        var mid = (view.t0 + view.t1) / 2, span = (view.t1 - view.t0) * 2;
        zoomTo(mid - span / 2, mid + span / 2);
      });
      canvas.addEventListener('mousemove', function (ev) {
        var p = pointer(ev), lines = dragFrom === null ? describe(p.x, p.y) : null;
        if (!lines) { tooltip.hidden = true; return; }
        showTooltip(lines, ev.clientX, ev.clientY);
      });
      canvas.addEventListener('mouseleave', function () { tooltip.hidden = true; });
      window.addEventListener('resize', draw);
    }
    function showTooltip(lines, clientX, clientY) {
      tooltip.textContent = '';
      lines.forEach(function (line, i) {
        var div = document.createElement('div');
        if (i === 0) div.className = 'head';
        div.textContent = line;
        tooltip.appendChild(div);
      });
      tooltip.hidden = false;
      var w = tooltip.offsetWidth, h = tooltip.offsetHeight;
      var left = clientX + 14 + w > window.innerWidth ? clientX - 14 - w : clientX + 14;
      var top = clientY + 16 + h > window.innerHeight ? clientY - 12 - h : clientY + 16;
      tooltip.style.left = Math.max(0, left) + 'px';
      tooltip.style.top = Math.max(0, top) + 'px';
    }

    // The tooltip lines for the point (x, y) of the canvas, or null.
    function describe(x, y) {
      var t = tOf(x), top = counterTop();
      if (y >= top && y < top + COUNTER_H) {
        var i = upperBound(steps.at, t) - 1;
        return ['waiting threads: ' + (i >= 0 ? steps.value[i] : 0), 'at ' + formatTime(t)];
      }
      var index = Math.floor((y - AXIS_H) / rowH);
      if (y < AXIS_H || index < 0 || index >= lanes.length) return null;
      var lane = lanes[index], lines = [lane.name + ' (thread ' + lane.thread + ')'];
      var mark = markNear(lane, x);
      if (mark >= 0) lines.push(MARK_NAMES[lane.markKind[mark]] + ' at ' + formatTime(lane.markAt[mark]));
      var s = upperBound(lane.starts, t) - 1;
      if (s >= 0 && lane.ends[s] > t) {
        lines.push(STATE_NAMES[lane.states[s]]);
        lines.push('start ' + formatTime(lane.starts[s]));
        lines.push('duration ' + formatTime(lane.ends[s] - lane.starts[s]));
        return lines;
      }
      var column = Math.floor(t / data.columnNs), c = upperBound(lane.columns, column) - 1;
      if (c >= 0 && lane.columns[c] === column) {
        var shares = [0, 1, 2].map(function (k) { return lane.shares[3 * c + k]; });
        lines.push('many short slices: ' + [0, 1, 2].filter(function (k) { return shares[k] > 0; })
            .map(function (k) { return percent(shares[k]) + ' ' + STATE_NAMES[k]; }).join(', '));
        lines.push(formatTime(column * data.columnNs) + ' \u2013 ' + formatTime((column + 1) * data.columnNs) +
                   ' (slices under ' + formatTime(data.columnNs) + ' are summed per column)');
        return lines;
      }
      lines.push(mark >= 0 ? '' : 'no state recorded here');
      return lines.filter(function (line) { return line !== ''; });
    }
    function markNear(lane, x) {
      var best = -1, bestDistance = 5;
      var i = Math.max(0, upperBound(lane.markAt, tOf(x - 5)) - 1);
      for (; i < lane.markAt.length && lane.markAt[i] <= tOf(x + 5); i++) {
        var d = Math.abs(xOf(lane.markAt[i]) - x);
        if (d < bestDistance) { bestDistance = d; best = i; }
      }
      return best;
    }
  }
})();
)JS";

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
  write_data(out, timeline, title, shown, grid, end_ns);
  out << "<script>" << kScript << "</script>\n</body>\n</html>\n";
}

}  // namespace gilrun
