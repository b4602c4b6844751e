// chrome_trace.cpp — a Timeline as Chrome Trace Event Format JSON.
//
// Notes
// -----
// The output is the JSON *object* form of the Trace Event Format, which both
// ui.perfetto.dev and chrome://tracing open:
//
//   {"traceEvents":[
//     {"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"gilrun"}},
//     {"name":"thread_name","ph":"M","pid":1,"tid":<thread_id>,"args":{"name":"main"}},
//     {"name":"thread_sort_index","ph":"M","pid":1,"tid":<thread_id>,"args":{"sort_index":0}},
//     {"name":"running","cat":"gil","ph":"X","pid":1,"tid":2,"ts":12.345,"dur":5000.000,"cname":"good"},
//     {"name":"drop request","cat":"gil","ph":"i","s":"t","pid":1,"tid":2,"ts":17.345},
//     {"name":"waiting threads","cat":"gil","ph":"C","pid":1,"tid":0,"ts":17.345,"args":{"count":1}},
//     ...],
//    "displayTimeUnit":"ms",
//    "otherData":{"title":"...","switches":"1234",...}}
//
// - One process (pid 1, named "gilrun"); one track per thread, tid = the
//   lane's thread_id, named by thread_name metadata and kept in lane order by
//   thread_sort_index.
// - Each slice is a complete event ("X") named by its activity, category
//   "gil", with a colour hint from Chrome's reserved palette: running "good"
//   (green), waiting "terrible" (red), blocked "grey". Perfetto picks its own
//   colours by name and ignores cname; chrome://tracing honours it.
// - Drop requests and forced drops are thread-scoped instant events ("i",
//   "s":"t") on the thread's track.
// - timeline.waiting becomes one counter track ("C", "waiting threads"; the
//   series is called "count").
// - Times are microseconds (the format's unit) written exactly from the
//   nanosecond integers as <us>.<3 digits>, so nothing is lost to floating
//   point and the bytes are deterministic.
// - The title and the summary counters go to "otherData" (free-form
//   metadata both viewers show in their trace info).
// - The writer streams: each event is formatted into a small stack buffer
//   and written straight to the ostream, so a million slices cost no more
//   memory than ten.
#include <charconv>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>

#include "trace/json_string.h"
#include "trace/timeline.h"

namespace gilrun {

const char* activity_name(ThreadActivity a) {
  switch (a) {
    case ThreadActivity::running: return "running";
    case ThreadActivity::waiting: return "waiting";
    case ThreadActivity::blocked: return "blocked";
  }
  return "unknown";
}

const char* mark_name(TimelineMark m) {
  switch (m) {
    case TimelineMark::drop_request: return "drop request";
    case TimelineMark::forced_drop: return "forced drop";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// Events

namespace {

constexpr int kPid = 1;

// A fixed buffer one event is formatted into before it goes to the stream.
class EventBuffer {
 public:
  EventBuffer& text(const char* s) {
    const size_t n = std::strlen(s);
    std::memcpy(cursor_, s, n);
    cursor_ += n;
    return *this;
  }
  EventBuffer& integer(int64_t value) {
    cursor_ = std::to_chars(cursor_, end_, value).ptr;
    return *this;
  }
  EventBuffer& unsigned_integer(uint64_t value) {
    cursor_ = std::to_chars(cursor_, end_, value).ptr;
    return *this;
  }
  // Nanoseconds as microseconds with exactly three decimals: 1234567 -> 1234.567.
  EventBuffer& microseconds(int64_t ns) {
    uint64_t magnitude = static_cast<uint64_t>(ns);
    if (ns < 0) {
      *cursor_++ = '-';
      magnitude = 0 - magnitude;
    }
    unsigned_integer(magnitude / 1000);
    const unsigned fraction = static_cast<unsigned>(magnitude % 1000);
    *cursor_++ = '.';
    *cursor_++ = static_cast<char>('0' + fraction / 100);
    *cursor_++ = static_cast<char>('0' + fraction / 10 % 10);
    *cursor_++ = static_cast<char>('0' + fraction % 10);
    return *this;
  }
  void flush_to(std::ostream& out) {
    out.write(buffer_, cursor_ - buffer_);
    cursor_ = buffer_;
  }

 private:
  // Longest event: fixed text (< 120 bytes) plus a few 20-digit numbers.
  char buffer_[256];
  char* cursor_ = buffer_;
  char* const end_ = buffer_ + sizeof buffer_;
};

const char* activity_colour(ThreadActivity a) {
  switch (a) {
    case ThreadActivity::running: return "good";
    case ThreadActivity::waiting: return "terrible";
    case ThreadActivity::blocked: return "grey";
  }
  return "grey";
}

// Writes the separator before every event but the first.
class EventList {
 public:
  explicit EventList(std::ostream& out) : out_(out) {}
  std::ostream& next() {
    out_ << (first_ ? "\n" : ",\n");
    first_ = false;
    return out_;
  }

 private:
  std::ostream& out_;
  bool first_ = true;
};

void write_process_name(EventList& events) {
  events.next() << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" << kPid
                << ",\"tid\":0,\"args\":{\"name\":\"gilrun\"}}";
}

void write_thread_metadata(EventList& events, const TimelineLane& lane, size_t sort_index) {
  std::ostream& out = events.next();
  out << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" << kPid
      << ",\"tid\":" << lane.thread_id << ",\"args\":{\"name\":";
  write_json_string(out, lane.name);
  out << "}}";
  events.next() << "{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":" << kPid
                << ",\"tid\":" << lane.thread_id << ",\"args\":{\"sort_index\":" << sort_index
                << "}}";
}

void write_slices(EventList& events, const TimelineLane& lane) {
  EventBuffer event;
  for (const TimelineSlice& slice : lane.slices) {
    if (slice.end_ns < slice.start_ns) continue;  // malformed: nothing to draw
    std::ostream& out = events.next();
    event.text("{\"name\":\"").text(activity_name(slice.activity))
        .text("\",\"cat\":\"gil\",\"ph\":\"X\",\"pid\":").integer(kPid)
        .text(",\"tid\":").unsigned_integer(lane.thread_id)
        .text(",\"ts\":").microseconds(slice.start_ns)
        .text(",\"dur\":").microseconds(slice.end_ns - slice.start_ns)
        .text(",\"cname\":\"").text(activity_colour(slice.activity)).text("\"}")
        .flush_to(out);
  }
}

void write_instants(EventList& events, const TimelineLane& lane, const Timeline& timeline) {
  EventBuffer event;
  for (const TimelineInstant& instant : lane.instants) {
    std::ostream& out = events.next();
    event.text("{\"name\":\"").text(mark_name(instant.mark))
        .text("\",\"cat\":\"gil\",\"ph\":\"i\",\"s\":\"t\",\"pid\":").integer(kPid)
        .text(",\"tid\":").unsigned_integer(lane.thread_id)
        .text(",\"ts\":").microseconds(instant.at_ns);
    if (instant.site >= 0 && static_cast<size_t>(instant.site) < timeline.sites.size()) {
      // Where the holder was (runtime/blame/): any length, so straight to out.
      event.text(",\"args\":{\"held at\":").flush_to(out);
      write_json_string(out, timeline.sites[instant.site]);
      event.text("}");
    }
    event.text("}").flush_to(out);
  }
}

void write_waiting_counter(EventList& events, const Timeline& timeline) {
  EventBuffer event;
  for (const auto& [at_ns, count] : timeline.waiting) {
    std::ostream& out = events.next();
    event.text("{\"name\":\"waiting threads\",\"cat\":\"gil\",\"ph\":\"C\",\"pid\":").integer(kPid)
        .text(",\"tid\":0,\"ts\":").microseconds(at_ns)
        .text(",\"args\":{\"count\":").integer(count).text("}}")
        .flush_to(out);
  }
}

void write_other_data(std::ostream& out, const Timeline& timeline) {
  out << "\"otherData\":{\"title\":";
  write_json_string(out, timeline.title);
  for (const auto& [key, value] : timeline.summary) {
    out << ',';
    write_json_string(out, key);
    out << ':';
    write_json_string(out, value);
  }
  out << '}';
}

}  // namespace

void write_chrome_trace(std::ostream& out, const Timeline& timeline) {
  out << "{\"traceEvents\":[";
  EventList events(out);
  write_process_name(events);
  for (size_t i = 0; i < timeline.lanes.size(); ++i) {
    write_thread_metadata(events, timeline.lanes[i], i);
  }
  for (const TimelineLane& lane : timeline.lanes) {
    write_slices(events, lane);
    write_instants(events, lane, timeline);
  }
  write_waiting_counter(events, timeline);
  out << "\n],\n\"displayTimeUnit\":\"ms\",\n";
  write_other_data(out, timeline);
  out << "}\n";
}

}  // namespace gilrun
