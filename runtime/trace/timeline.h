// timeline.h — what a recorded run looks like once the per-thread trace
// buffers are merged: one lane of state slices per thread, instant markers,
// counter samples and the summary counters. This file is private to the
// runtime.
//
// Two writers turn a Timeline into files: write_chrome_trace() (Chrome Trace
// Event JSON, opens in ui.perfetto.dev and chrome://tracing) and
// write_timeline_html() (one self-contained HTML page with Beazley-style GIL
// bars).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "gilrun/gilrun.h"

namespace gilrun {

enum class ThreadActivity : uint8_t {
  running,  // holds the GIL
  waiting,  // wants the GIL
  blocked,  // released it for I/O, sleep, join...
};

const char* activity_name(ThreadActivity a);  // "running", "waiting", "blocked"

struct TimelineSlice {
  int64_t start_ns;  // since the start of the run
  int64_t end_ns;
  ThreadActivity activity;
};

enum class TimelineMark : uint8_t {
  drop_request,  // a waiter asked this thread to drop the GIL
  forced_drop,   // this thread dropped it because it was asked to
};

const char* mark_name(TimelineMark m);  // "drop request", "forced drop"

struct TimelineInstant {
  int64_t at_ns;
  TimelineMark mark;
  // A forced drop's holder position (runtime/blame/): an index into
  // Timeline::sites, or -1 when unknown (not attributed, or another mark).
  int32_t site = -1;
};

struct TimelineLane {
  uint64_t thread_id;
  std::string name;
  std::vector<TimelineSlice> slices;      // sorted, non-overlapping
  std::vector<TimelineInstant> instants;  // sorted
};

struct Timeline {
  std::string title;       // e.g. the script name and GIL settings
  int64_t duration_ns = 0;
  std::vector<TimelineLane> lanes;
  // Counter track: how many threads wait for the GIL, as (time, value) steps.
  std::vector<std::pair<int64_t, int>> waiting;
  // Summary shown above the lanes, in order: ("switches", "1234"), ...
  std::vector<std::pair<std::string, std::string>> summary;
  // Where forced drops happened: "file.lua:12 (function)", by index.
  std::vector<std::string> sites;
  // The attribution tables (Stats::holders, Stats::waiters), if known.
  std::vector<GilSite> holders;
  std::vector<GilSite> waiters;
};

void write_chrome_trace(std::ostream& out, const Timeline& timeline);
void write_timeline_html(std::ostream& out, const Timeline& timeline);

}  // namespace gilrun
