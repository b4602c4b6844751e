// timeline_test.cpp — the two Timeline writers: the Chrome trace JSON and the
// self-contained HTML page.
//
// The Chrome trace is checked by parsing it with the small strict JSON parser
// below (RFC 8259 grammar, UTF-8 checked) and looking at the events; the HTML
// by scanning for external references and parsing the embedded data. The
// size tests pin the HTML's bound on big inputs. Drawing in a real browser
// is timeline_browser_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "trace/timeline.h"
#include "trace/trace_recorder.h"

namespace gilrun {
namespace {

// ---------------------------------------------------------------------------
// A minimal strict JSON parser

struct Json {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json* find(const std::string& key) const {
    for (const auto& member : members) {
      if (member.first == key) return &member.second;
    }
    return nullptr;
  }
  const Json& operator[](const std::string& key) const {
    static const Json missing;
    const Json* value = find(key);
    return value ? *value : missing;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : text_(text) {}

  // Parses the whole text as one JSON value; on failure returns false and
  // error() says where.
  bool parse(Json* out) {
    skip_space();
    if (!value(out, 0)) return false;
    skip_space();
    return pos_ == text_.size() || fail("trailing characters");
  }
  const std::string& error() const { return error_; }

 private:
  bool fail(const char* what) {
    if (error_.empty()) error_ = std::string(what) + " at byte " + std::to_string(pos_);
    return false;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\n' || peek() == '\r' || peek() == '\t')) ++pos_;
  }
  bool expect(char c) {
    if (peek() != c) return fail("unexpected character");
    ++pos_;
    return true;
  }

  bool value(Json* out, int depth) {
    if (depth > 64) return fail("nesting too deep");
    switch (peek()) {
      case '{': return object(out, depth);
      case '[': return array(out, depth);
      case '"': out->type = Json::Type::string; return string(&out->string);
      case 't': out->type = Json::Type::boolean; out->boolean = true; return literal("true");
      case 'f': out->type = Json::Type::boolean; return literal("false");
      case 'n': out->type = Json::Type::null; return literal("null");
      default: out->type = Json::Type::number; return number(&out->number);
    }
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (text_.compare(pos_, n, word) != 0) return fail("bad literal");
    pos_ += n;
    return true;
  }
  bool object(Json* out, int depth) {
    out->type = Json::Type::object;
    ++pos_;
    skip_space();
    if (peek() == '}') return ++pos_, true;
    for (;;) {
      std::pair<std::string, Json> member;
      skip_space();
      if (peek() != '"' || !string(&member.first)) return fail("expected a key");
      skip_space();
      if (!expect(':')) return false;
      skip_space();
      if (!value(&member.second, depth + 1)) return false;
      out->members.push_back(std::move(member));
      skip_space();
      if (peek() == '}') return ++pos_, true;
      if (!expect(',')) return false;
    }
  }
  bool array(Json* out, int depth) {
    out->type = Json::Type::array;
    ++pos_;
    skip_space();
    if (peek() == ']') return ++pos_, true;
    for (;;) {
      skip_space();
      out->items.emplace_back();
      if (!value(&out->items.back(), depth + 1)) return false;
      skip_space();
      if (peek() == ']') return ++pos_, true;
      if (!expect(',')) return false;
    }
  }
  bool number(double* out) {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (isdigit(peek())) ++pos_;
    } else {
      return fail("bad number");
    }
    if (peek() == '.') {
      ++pos_;
      if (!isdigit(peek())) return fail("bad fraction");
      while (isdigit(peek())) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!isdigit(peek())) return fail("bad exponent");
      while (isdigit(peek())) ++pos_;
    }
    *out = std::stod(text_.substr(start, pos_ - start));
    return true;
  }
  static bool isdigit(char c) { return c >= '0' && c <= '9'; }

  bool hex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return fail("short \\u escape");
    *out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      *out <<= 4;
      if (c >= '0' && c <= '9') *out |= c - '0';
      else if (c >= 'a' && c <= 'f') *out |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') *out |= c - 'A' + 10;
      else return fail("bad \\u escape");
    }
    return true;
  }
  static void append_utf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool escape(std::string* out) {
    const char c = text_[pos_++];
    switch (c) {
      case '"': case '\\': case '/': out->push_back(c); return true;
      case 'b': out->push_back('\b'); return true;
      case 'f': out->push_back('\f'); return true;
      case 'n': out->push_back('\n'); return true;
      case 'r': out->push_back('\r'); return true;
      case 't': out->push_back('\t'); return true;
      case 'u': break;
      default: return fail("bad escape");
    }
    uint32_t cp = 0;
    if (!hex4(&cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low = 0;
      if (text_.compare(pos_, 2, "\\u") != 0) return fail("lone high surrogate");
      pos_ += 2;
      if (!hex4(&low) || low < 0xDC00 || low > 0xDFFF) return fail("bad low surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return fail("lone low surrogate");
    }
    append_utf8(out, cp);
    return true;
  }
  // Length of the valid UTF-8 sequence at pos_, or 0.
  size_t utf8_length() const {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text_[k]); };
    const unsigned char lead = byte(pos_);
    size_t n = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3
             : (lead & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || pos_ + n > text_.size()) return 0;
    uint32_t cp = n == 1 ? lead : lead & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      if ((byte(pos_ + k) & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (byte(pos_ + k) & 0x3F);
    }
    static const uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kSmallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
  }
  bool string(std::string* out) {
    ++pos_;  // the opening quote
    for (;;) {
      if (at_end()) return fail("unterminated string");
      const char c = text_[pos_];
      if (c == '"') return ++pos_, true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("raw control character in string");
      if (c == '\\') {
        ++pos_;
        if (at_end() || !escape(out)) return fail("bad escape");
        continue;
      }
      const size_t n = utf8_length();
      if (n == 0) return fail("invalid UTF-8");
      out->append(text_, pos_, n);
      pos_ += n;
    }
  }

  const std::string& text_;
  size_t pos_ = 0;
  std::string error_;
};

Json parse_json_or_fail(const std::string& text) {
  Json root;
  JsonParser parser(text);
  EXPECT_TRUE(parser.parse(&root)) << parser.error();
  return root;
}

TEST(TimelineJsonParser, AcceptsValidAndRejectsInvalidJson) {
  Json root;
  EXPECT_TRUE(JsonParser(R"({"a":[1,-2.5e3,true,null,"x\u00e9\ud83d\ude00"]})").parse(&root));
  EXPECT_EQ(root["a"].items[4].string, "x\xC3\xA9\xF0\x9F\x98\x80");
  for (const char* bad : {"{", "[1,]", "{\"a\":01}", "\"\x01\"", "\"\xC3\"", "[1] x", "{'a':1}"}) {
    Json ignored;
    EXPECT_FALSE(JsonParser(bad).parse(&ignored)) << bad;
  }
}

// ---------------------------------------------------------------------------
// Synthetic timelines

constexpr int64_t kMs = 1000000;

TimelineSlice slice(int64_t start_ns, int64_t end_ns, ThreadActivity activity) {
  return TimelineSlice{start_ns, end_ns, activity};
}

// Three threads: main blocked in a join, two CPU threads trading the GIL.
Timeline small_timeline() {
  using A = ThreadActivity;
  Timeline timeline;
  timeline.title = "fib.lua (interval 5 ms)";
  timeline.duration_ns = 20 * kMs;
  TimelineLane main_lane{1, "main", {}, {}};
  main_lane.slices = {slice(0, 1500, A::running), slice(1500, 20 * kMs, A::blocked)};
  TimelineLane a{2, "worker-a", {}, {}};
  a.slices = {slice(1500, 2750, A::waiting), slice(2750, 7 * kMs, A::running),
              slice(7 * kMs, 12 * kMs, A::waiting), slice(12 * kMs, 20 * kMs, A::running)};
  a.instants = {{7 * kMs - 200000, TimelineMark::drop_request},
                {7 * kMs, TimelineMark::forced_drop}};
  TimelineLane b{3, "worker-b", {}, {}};
  b.slices = {slice(2000, 7 * kMs, A::waiting), slice(7 * kMs, 12 * kMs, A::running),
              slice(12 * kMs, 20 * kMs, A::waiting)};
  b.instants = {{12 * kMs - 300000, TimelineMark::drop_request},
                {12 * kMs, TimelineMark::forced_drop}};
  timeline.lanes = {main_lane, a, b};
  timeline.waiting = {{0, 0}, {1500, 1}, {2000, 2}, {2750, 1}, {20 * kMs, 0}};
  timeline.summary = {{"switches", "3"}, {"drop requests", "2"}, {"forced drops", "2"}};
  return timeline;
}

// A small deterministic pseudo-random sequence (no <random> distributions:
// their output differs between standard libraries).
struct Lcg {
  uint64_t state;
  uint32_t next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  }
};

// `threads` threads thrashing for `duration_ns`, each with about
// `slices_per_thread` alternating running / waiting slices (some blocked),
// a drop request and a forced drop at every running slice's end, and a
// waiting-threads step at every slice boundary of thread 0.
Timeline thrashing_timeline(int threads, int slices_per_thread, int64_t duration_ns) {
  Timeline timeline;
  timeline.title = "thrash.lua";
  timeline.duration_ns = duration_ns;
  const int64_t mean_ns = duration_ns / slices_per_thread;
  for (int t = 0; t < threads; ++t) {
    TimelineLane lane{static_cast<uint64_t>(t + 1), "cpu-" + std::to_string(t + 1), {}, {}};
    lane.slices.reserve(static_cast<size_t>(slices_per_thread));
    Lcg random{static_cast<uint64_t>(t) + 7};
    int64_t at = 0;
    for (int i = 0; at < duration_ns; ++i) {
      const int64_t length = std::min<int64_t>(mean_ns / 2 + random.next() % mean_ns, duration_ns - at);
      const uint32_t pick = random.next() % 16;
      const ThreadActivity activity = pick == 0 ? ThreadActivity::blocked
                                      : (i % 2 == 0) ? ThreadActivity::running
                                                     : ThreadActivity::waiting;
      lane.slices.push_back(slice(at, at + length, activity));
      if (activity == ThreadActivity::running) {
        lane.instants.push_back({at + length / 2, TimelineMark::drop_request});
        lane.instants.push_back({at + length, TimelineMark::forced_drop});
      }
      if (t == 0) timeline.waiting.emplace_back(at, static_cast<int>(random.next() % threads));
      at += length;
    }
    timeline.lanes.push_back(std::move(lane));
  }
  timeline.summary = {{"switches", "123456"}, {"drop requests", "100000"}};
  return timeline;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

// ---------------------------------------------------------------------------
// Chrome trace

std::string chrome_trace(const Timeline& timeline) {
  std::ostringstream out;
  write_chrome_trace(out, timeline);
  return out.str();
}

std::vector<const Json*> events_with_phase(const Json& root, const std::string& phase) {
  std::vector<const Json*> events;
  for (const Json& event : root["traceEvents"].items) {
    if (event["ph"].string == phase) events.push_back(&event);
  }
  return events;
}

TEST(TimelineChrome, NamesActivitiesAndMarks) {
  EXPECT_STREQ(activity_name(ThreadActivity::running), "running");
  EXPECT_STREQ(activity_name(ThreadActivity::waiting), "waiting");
  EXPECT_STREQ(activity_name(ThreadActivity::blocked), "blocked");
  EXPECT_STREQ(mark_name(TimelineMark::drop_request), "drop request");
  EXPECT_STREQ(mark_name(TimelineMark::forced_drop), "forced drop");
}

TEST(TimelineChrome, IsValidJsonInTheObjectForm) {
  const Json root = parse_json_or_fail(chrome_trace(small_timeline()));
  ASSERT_EQ(root.type, Json::Type::object);
  EXPECT_EQ(root["traceEvents"].type, Json::Type::array);
  EXPECT_EQ(root["displayTimeUnit"].string, "ms");
  EXPECT_EQ(root["otherData"]["title"].string, "fib.lua (interval 5 ms)");
  EXPECT_EQ(root["otherData"]["switches"].string, "3");
}

TEST(TimelineChrome, NamesTheProcessAndOneTrackPerThread) {
  const Timeline timeline = small_timeline();
  const Json root = parse_json_or_fail(chrome_trace(timeline));
  std::map<std::string, int> process_names;
  std::map<double, std::string> thread_names;
  for (const Json* event : events_with_phase(root, "M")) {
    if ((*event)["name"].string == "process_name") ++process_names[(*event)["args"]["name"].string];
    if ((*event)["name"].string == "thread_name") {
      thread_names[(*event)["tid"].number] = (*event)["args"]["name"].string;
    }
  }
  EXPECT_EQ(process_names, (std::map<std::string, int>{{"gilrun", 1}}));
  EXPECT_EQ(thread_names,
            (std::map<double, std::string>{{1, "main"}, {2, "worker-a"}, {3, "worker-b"}}));
}

TEST(TimelineChrome, WritesOneCompleteEventPerSliceInMicroseconds) {
  const Timeline timeline = small_timeline();
  const Json root = parse_json_or_fail(chrome_trace(timeline));
  const auto slices = events_with_phase(root, "X");
  ASSERT_EQ(slices.size(), 2u + 4u + 3u);
  const std::map<std::string, std::string> colour_of{
      {"running", "good"}, {"waiting", "terrible"}, {"blocked", "grey"}};
  for (const Json* event : slices) {
    ASSERT_TRUE(colour_of.count((*event)["name"].string)) << (*event)["name"].string;
    EXPECT_EQ((*event)["cname"].string, colour_of.at((*event)["name"].string));
    EXPECT_EQ((*event)["cat"].string, "gil");
    EXPECT_EQ((*event)["pid"].number, 1);
  }
  // worker-a's first slice: 1500 ns .. 2750 ns waiting.
  const Json& first_wait = *slices[2];
  EXPECT_EQ(first_wait["tid"].number, 2);
  EXPECT_EQ(first_wait["name"].string, "waiting");
  EXPECT_DOUBLE_EQ(first_wait["ts"].number, 1.5);
  EXPECT_DOUBLE_EQ(first_wait["dur"].number, 1.25);
  EXPECT_NE(chrome_trace(timeline).find("\"ts\":1.500,\"dur\":1.250"), std::string::npos);
}

TEST(TimelineChrome, WritesThreadInstantsAndTheWaitingCounter) {
  const Json root = parse_json_or_fail(chrome_trace(small_timeline()));
  const auto instants = events_with_phase(root, "i");
  ASSERT_EQ(instants.size(), 4u);
  EXPECT_EQ((*instants[0])["name"].string, "drop request");
  EXPECT_EQ((*instants[0])["s"].string, "t");
  EXPECT_EQ((*instants[0])["tid"].number, 2);
  EXPECT_DOUBLE_EQ((*instants[0])["ts"].number, 6800);
  EXPECT_EQ((*instants[1])["name"].string, "forced drop");
  const auto counters = events_with_phase(root, "C");
  ASSERT_EQ(counters.size(), 5u);
  for (const Json* counter : counters) EXPECT_EQ((*counter)["name"].string, "waiting threads");
  EXPECT_DOUBLE_EQ((*counters[2])["ts"].number, 2);
  EXPECT_EQ((*counters[2])["args"]["count"].number, 2);
}

TEST(TimelineChrome, EscapesUserTextAndRepairsInvalidUtf8) {
  Timeline timeline = small_timeline();
  const std::string tricky = "q\"b\\s/n\nt\tc\x01 \xC3\xA9 \xF0\x9F\x98\x80 </script>";
  timeline.lanes[0].name = tricky;
  timeline.lanes[1].name = "bad \xFF\xC3 utf8";
  timeline.title = "title \"quoted\"";
  const Json root = parse_json_or_fail(chrome_trace(timeline));
  std::vector<std::string> names;
  for (const Json* event : events_with_phase(root, "M")) {
    if ((*event)["name"].string == "thread_name") names.push_back((*event)["args"]["name"].string);
  }
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], tricky);
  EXPECT_EQ(names[1], "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8");
  EXPECT_EQ(root["otherData"]["title"].string, "title \"quoted\"");
}

TEST(TimelineChrome, EmptyTimelineIsStillATrace) {
  const Json root = parse_json_or_fail(chrome_trace(Timeline{}));
  EXPECT_EQ(root["traceEvents"].items.size(), 1u);  // the process name
}

// Counts bytes and events (one per line) without keeping the text.
class CountingBuffer : public std::streambuf {
 public:
  size_t bytes = 0;
  size_t lines = 0;
  size_t complete_events = 0;

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) consume(static_cast<char>(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) consume(s[i]);
    return n;
  }

 private:
  void consume(char c) {
    ++bytes;
    if (c == '\n') ++lines;
    static const char kNeedle[] = "\"ph\":\"X\"";
    matched_ = c == kNeedle[matched_] ? matched_ + 1 : (c == kNeedle[0] ? 1 : 0);
    if (matched_ == sizeof kNeedle - 1) {
      ++complete_events;
      matched_ = 0;
    }
  }
  size_t matched_ = 0;
};

TEST(TimelineChrome, StreamsAMillionSlices) {
  const Timeline timeline = thrashing_timeline(4, 260000, 10000 * kMs);
  size_t slices = 0;
  for (const TimelineLane& lane : timeline.lanes) slices += lane.slices.size();
  ASSERT_GE(slices, 1000000u);
  CountingBuffer counter;
  std::ostream out(&counter);
  write_chrome_trace(out, timeline);
  EXPECT_EQ(counter.complete_events, slices);
  EXPECT_GT(counter.lines, slices);
  EXPECT_LT(counter.bytes, counter.lines * 120);  // about 100 bytes an event
}

// ---------------------------------------------------------------------------
// HTML page

std::string timeline_html(const Timeline& timeline) {
  std::ostringstream out;
  write_timeline_html(out, timeline);
  return out.str();
}

// The JSON inside <script type="application/json" id="gilrun-data">.
std::string embedded_data(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"gilrun-data\">";
  const size_t start = html.find(open);
  if (start == std::string::npos) return "";
  const size_t end = html.find("</script>", start);
  return html.substr(start + open.size(), end - start - open.size());
}

std::vector<int64_t> numbers_of(const Json& array) {
  std::vector<int64_t> numbers;
  for (const Json& item : array.items) numbers.push_back(static_cast<int64_t>(item.number));
  return numbers;
}

void expect_self_contained(const std::string& html) {
  for (const char* external : {"http://", "https://", "<script src", "<link", "@import", "url(",
                               "<iframe", "<img"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << "the page references " << external;
  }
}

TEST(TimelineHtml, IsOneSelfContainedPage) {
  const std::string html = timeline_html(small_timeline());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  expect_self_contained(html);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  EXPECT_NE(html.find("<canvas id=\"timeline-canvas\""), std::string::npos);
}

TEST(TimelineHtml, ShowsTitleSummaryLegendAndThreads) {
  const std::string html = timeline_html(small_timeline());
  EXPECT_NE(html.find("fib.lua (interval 5 ms)"), std::string::npos);
  for (const char* text : {"switches", "drop requests", "forced drops", "running (holds the GIL)",
                           "waiting for the GIL", "blocked (sleep, I/O, join)", "worker-a",
                           "worker-b", "main"}) {
    EXPECT_NE(html.find(text), std::string::npos) << text;
  }
  EXPECT_EQ(count_of(html, "<li class=\"card\">"), 2u + 3u);  // duration, threads + summary
  EXPECT_NE(html.find("body.dataset.rendered"), std::string::npos);
}

TEST(TimelineHtml, EmbedsEverySliceExactlyWhenThereAreFew) {
  const Timeline timeline = small_timeline();
  const Json data = parse_json_or_fail(embedded_data(timeline_html(timeline)));
  EXPECT_EQ(data["endNs"].number, 20 * kMs);
  EXPECT_EQ(data["threadsShown"].number, 3);
  ASSERT_EQ(data["lanes"].items.size(), 3u);
  const Json& worker_a = data["lanes"].items[1];
  EXPECT_EQ(worker_a["thread"].number, 2);
  EXPECT_EQ(worker_a["name"].string, "worker-a");
  EXPECT_TRUE(worker_a["exact"].boolean);
  EXPECT_TRUE(worker_a["mix"].items.empty());
  // [startDelta, duration, state] per slice.
  EXPECT_EQ(numbers_of(worker_a["slices"]),
            (std::vector<int64_t>{1500, 1250, 1, 1250, 7 * kMs - 2750, 0, 7 * kMs - 2750,
                                  5 * kMs, 1, 5 * kMs, 8 * kMs, 0}));
  // [atDelta, kind, site] per mark; -1: no drop site known.
  EXPECT_EQ(numbers_of(worker_a["marks"]), (std::vector<int64_t>{6800000, 0, -1, 200000, 1, -1}));
  EXPECT_EQ(numbers_of(data["waiting"]), (std::vector<int64_t>{0, 0, 1500, 1, 500, 2, 750, 1,
                                                               20 * kMs - 2750, 0}));
  EXPECT_EQ(data["waitingMax"].number, 2);
}

// A forced drop's holder position (runtime/blame/) travels with its mark,
// and the two attribution tables are listed below the bars.
TEST(TimelineHtml, ForcedDropsNameTheirLineAndTheTablesAreListed) {
  Timeline timeline = small_timeline();
  timeline.sites = {"culprit.lua:25 (hold [C] in culprit)"};
  for (TimelineInstant& instant : timeline.lanes[1].instants) {
    if (instant.mark == TimelineMark::forced_drop) instant.site = 0;
  }
  timeline.holders = {GilSite{"culprit.lua:25", "hold [C] in culprit", 0.3, 6, 0.07},
                      GilSite{"culprit.lua:21", "fib", 0.1, 6, 0.02}};
  timeline.waiters = {GilSite{"culprit.lua:42", "sleep [C] in io", 0.4, 4, 0.3}};
  const std::string html = timeline_html(timeline);
  const Json data = parse_json_or_fail(embedded_data(html));
  ASSERT_EQ(data["sites"].items.size(), 1u);
  EXPECT_EQ(data["sites"].items[0].string, "culprit.lua:25 (hold [C] in culprit)");
  EXPECT_EQ(numbers_of(data["lanes"].items[1]["marks"]),
            (std::vector<int64_t>{6800000, 0, -1, 200000, 1, 0}));
  const size_t held = html.find("<table class=\"threads sites\" id=\"held-table\">");
  const size_t waited = html.find("<table class=\"threads sites\" id=\"waited-table\">");
  ASSERT_NE(held, std::string::npos);
  ASSERT_NE(waited, std::string::npos);
  const std::string held_table = html.substr(held, waited - held);
  EXPECT_NE(held_table.find("<tr><td>culprit.lua:25</td><td>hold [C] in culprit</td><td>300.0 ms</td>"
                            "<td>75.0%</td><td>6</td><td>70.0 ms</td></tr>"),
            std::string::npos)
      << held_table;
  EXPECT_LT(held_table.find("culprit.lua:25"), held_table.find("culprit.lua:21"));
  EXPECT_NE(html.find("culprit.lua:42</td><td>sleep [C] in io", waited), std::string::npos);
  EXPECT_NE(html.find("GIL held while others waited"), std::string::npos);
  EXPECT_NE(html.find("waited for the GIL at"), std::string::npos);
}

TEST(TimelineHtml, TablesSayWhenNobodyWaited) {
  const std::string html = timeline_html(small_timeline());
  EXPECT_EQ(count_of(html, "nobody waited"), 2u);
  EXPECT_TRUE(parse_json_or_fail(embedded_data(html))["sites"].items.empty());
}

// The recorder attaches a drop site to the lane's latest forced drop.
TEST(TimelineRecorder, DropSiteNamesTheLatestForcedDrop) {
  TraceRecorder recorder;
  TraceBuffer* buffer = recorder.add_thread(7, "holder");
  const Clock::time_point t0 = Clock::now();
  buffer->record(TraceKind::running, t0);
  buffer->record(TraceKind::forced_drop, t0 + std::chrono::milliseconds(1));
  buffer->record(TraceKind::waiting, t0 + std::chrono::milliseconds(1));
  buffer->record(TraceKind::running, t0 + std::chrono::milliseconds(2));
  buffer->record(TraceKind::forced_drop, t0 + std::chrono::milliseconds(3));
  buffer->record(TraceKind::waiting, t0 + std::chrono::milliseconds(3));
  buffer->record(TraceKind::running, t0 + std::chrono::milliseconds(4));
  buffer->record_drop_site(t0 + std::chrono::milliseconds(4), "x.lua:9 (spin)");
  buffer->record_drop_site(t0 + std::chrono::milliseconds(5), "x.lua:9 (spin)");  // no new drop
  EXPECT_EQ(recorder.site_index("x.lua:9 (spin)"), 0);
  EXPECT_EQ(recorder.site_index("y.lua:1 (other)"), 1);
  const Timeline timeline = recorder.timeline();
  ASSERT_EQ(timeline.lanes.size(), 1u);
  const std::vector<TimelineInstant>& marks = timeline.lanes[0].instants;
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_EQ(marks[0].site, -1);
  EXPECT_EQ(marks[1].site, 0);
  ASSERT_EQ(timeline.sites.size(), 2u);
  EXPECT_EQ(timeline.sites[0], "x.lua:9 (spin)");
}

TEST(TimelineHtml, SumsShortSlicesPerColumnWhenThereAreMany) {
  // 3 ms of 100 ns slices alternating running / waiting: 30,000 slices,
  // 3,000 columns of 1 µs, each half running and half waiting.
  Timeline timeline;
  timeline.duration_ns = 3 * kMs;
  TimelineLane lane{9, "busy", {}, {}};
  for (int64_t at = 0, i = 0; at < 3 * kMs; at += 100, ++i) {
    lane.slices.push_back(slice(at, at + 100, i % 2 ? ThreadActivity::waiting : ThreadActivity::running));
  }
  timeline.lanes.push_back(lane);
  const Json data = parse_json_or_fail(embedded_data(timeline_html(timeline)));
  EXPECT_EQ(data["columns"].number, 3000);
  EXPECT_EQ(data["columnNs"].number, 1000);
  const Json& busy = data["lanes"].items.at(0);
  EXPECT_FALSE(busy["exact"].boolean);
  EXPECT_TRUE(busy["slices"].items.empty());
  const std::vector<int64_t> mix = numbers_of(busy["mix"]);
  ASSERT_EQ(mix.size(), 4u * 3000u);
  for (size_t column = 0; column < 3000; ++column) {
    EXPECT_EQ(mix[4 * column], column == 0 ? 0 : 1);
    EXPECT_EQ(mix[4 * column + 1], 500);
    EXPECT_EQ(mix[4 * column + 2], 500);
    EXPECT_EQ(mix[4 * column + 3], 0);
  }
}

TEST(TimelineHtml, KeepsLongSlicesExactInADownsampledLane) {
  // 20,000 short slices in the first 10 ms, then one 990 ms blocked slice.
  Timeline timeline;
  timeline.duration_ns = 1000 * kMs;
  TimelineLane lane{4, "mixed", {}, {}};
  for (int64_t at = 0, i = 0; at < 10 * kMs; at += 500, ++i) {
    lane.slices.push_back(slice(at, at + 500, i % 2 ? ThreadActivity::waiting : ThreadActivity::running));
  }
  lane.slices.push_back(slice(10 * kMs, 1000 * kMs, ThreadActivity::blocked));
  timeline.lanes.push_back(lane);
  const Json data = parse_json_or_fail(embedded_data(timeline_html(timeline)));
  const Json& mixed = data["lanes"].items.at(0);
  EXPECT_FALSE(mixed["exact"].boolean);
  EXPECT_EQ(numbers_of(mixed["slices"]), (std::vector<int64_t>{10 * kMs, 990 * kMs, 2}));
  EXPECT_FALSE(mixed["mix"].items.empty());
}

TEST(TimelineHtml, EscapesUserTextEverywhere) {
  Timeline timeline = small_timeline();
  const std::string hostile = "</script><script>alert(1)</script>&\"'";
  timeline.lanes[1].name = hostile;
  timeline.title = hostile;
  timeline.summary.emplace_back(hostile, hostile);
  const std::string html = timeline_html(timeline);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(count_of(html, "</script>"), 2u);  // the data and the renderer
  const Json data = parse_json_or_fail(embedded_data(html));
  EXPECT_EQ(data["lanes"].items.at(1)["name"].string, hostile);
  EXPECT_EQ(data["title"].string, hostile);
}

TEST(TimelineHtml, EmptyTimelineStillRenders) {
  const std::string html = timeline_html(Timeline{});
  expect_self_contained(html);
  const Json data = parse_json_or_fail(embedded_data(html));
  EXPECT_TRUE(data["lanes"].items.empty());
  EXPECT_GE(data["endNs"].number, 1);
}

TEST(TimelineHtml, BigThrashingRunStaysSmall) {
  // 4 threads × 200K slices over 10 s, with 200K markers and 200K counter
  // steps per thread.
  const Timeline timeline = thrashing_timeline(4, 200000, 10000 * kMs);
  ASSERT_GE(timeline.lanes[0].slices.size(), 150000u);
  const std::string html = timeline_html(timeline);
  std::cout << "[          ] HTML for 4 threads x ~200K slices: " << html.size() << " bytes\n";
  EXPECT_LT(html.size(), 1000000u);
  expect_self_contained(html);
  const Json data = parse_json_or_fail(embedded_data(html));
  ASSERT_EQ(data["lanes"].items.size(), 4u);
  for (const Json& lane : data["lanes"].items) {
    EXPECT_FALSE(lane["exact"].boolean);
    EXPECT_LE(lane["mix"].items.size(), 4u * 3000u);
    EXPECT_LE(lane["marks"].items.size(), 3u * 2u * 3000u);
  }
  EXPECT_LE(data["waiting"].items.size(), 2u * 3000u);
}

TEST(TimelineHtml, ManyThreadsStayUnderTheBound) {
  // 1,000 threads with long names, each mixing long and short slices and
  // thousands of markers: only the 300 busiest are drawn.
  Timeline timeline;
  timeline.duration_ns = 10000 * kMs;
  for (uint64_t t = 0; t < 1000; ++t) {
    TimelineLane lane{t + 100, std::string(200, 'x') + std::to_string(t), {}, {}};
    Lcg random{t};
    for (int64_t at = 0; at < timeline.duration_ns;) {
      for (int i = 0; i < 20 && at < timeline.duration_ns; ++i) {
        const int64_t length = 1000 + random.next() % 100000;
        lane.slices.push_back(slice(at, at + length, i % 2 ? ThreadActivity::waiting : ThreadActivity::running));
        lane.instants.push_back({at, TimelineMark::drop_request});
        at += length;
      }
      lane.slices.push_back(slice(at, at + 130 * kMs, ThreadActivity::blocked));
      at += 130 * kMs;
    }
    timeline.lanes.push_back(std::move(lane));
  }
  const std::string html = timeline_html(timeline);
  std::cout << "[          ] HTML for 1000 threads: " << html.size() << " bytes\n";
  EXPECT_LT(html.size(), 3000000u);
  EXPECT_NE(html.find("Showing the 300 busiest of 1000 threads"), std::string::npos);
  const Json data = parse_json_or_fail(embedded_data(html));
  EXPECT_EQ(data["lanes"].items.size(), 300u);
  EXPECT_EQ(data["threadsTotal"].number, 1000);
}

}  // namespace
}  // namespace gilrun
