// timeline_browser_test.cpp — the timeline HTML page drawn by a real browser:
// Debian's headless Chromium loads the page from a temp file, runs its
// script, and dumps the DOM (the script marks <body data-rendered="N"> and
// builds one <div class="lane" data-thread=ID> per thread once it has drawn)
// or takes a screenshot.
//
// Chromium is run under timeout(1): the test waits for the process to exit
// and fails if it is still running after 60 s. Without /usr/bin/chromium the
// tests skip (.ci/install-deps installs it). Set
// GILRUN_TIMELINE_SCREENSHOTS=<dir> to keep the screenshots for a look.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "trace/timeline.h"

namespace gilrun {
namespace {

namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr int kChromiumTimeoutSeconds = 60;
constexpr int64_t kUs = 1000;
constexpr int64_t kMs = 1000 * kUs;

// ---------------------------------------------------------------------------
// Synthetic runs

// Builds a lane's slices from state changes, and keeps the waiting counter.
class RunRecorder {
 public:
  explicit RunRecorder(Timeline* timeline) : timeline_(timeline) {}

  size_t add_thread(uint64_t id, std::string name) {
    timeline_->lanes.push_back(TimelineLane{id, std::move(name), {}, {}});
    current_.push_back(-1);
    since_.push_back(0);
    return timeline_->lanes.size() - 1;
  }
  void set(size_t lane, int64_t at, ThreadActivity activity) {
    finish(lane, at);
    current_[lane] = static_cast<int>(activity);
    since_[lane] = at;
    if (activity == ThreadActivity::waiting) ++waiting_;
    timeline_->waiting.emplace_back(at, waiting_);
  }
  void mark(size_t lane, int64_t at, TimelineMark mark) {
    timeline_->lanes[lane].instants.push_back({at, mark});
  }
  void end(int64_t at) {
    for (size_t lane = 0; lane < current_.size(); ++lane) finish(lane, at);
    timeline_->duration_ns = at;
    timeline_->waiting.emplace_back(at, 0);
  }

 private:
  void finish(size_t lane, int64_t at) {
    if (current_[lane] < 0) return;
    const auto activity = static_cast<ThreadActivity>(current_[lane]);
    if (at > since_[lane]) timeline_->lanes[lane].slices.push_back({since_[lane], at, activity});
    if (activity == ThreadActivity::waiting) --waiting_;
    current_[lane] = -1;
  }
  Timeline* timeline_;
  std::vector<int> current_;
  std::vector<int64_t> since_;
  int waiting_ = 0;
};

// Beazley's picture: main joins two CPU-bound threads that trade the GIL
// every 5 ms interval (a drop request, then a forced drop), while an I/O
// thread wakes up every millisecond and then waits up to a whole interval
// for the GIL (the convoy effect).
Timeline thrashing_run(int64_t duration_ns) {
  using A = ThreadActivity;
  constexpr int64_t kInterval = 5 * kMs;
  Timeline timeline;
  timeline.title = "convoy.lua \xE2\x80\x94 interval 5 ms, 2 CPU threads + 1 I/O thread";
  RunRecorder run(&timeline);
  const size_t main_thread = run.add_thread(1, "main");
  const std::array<size_t, 2> cpu{run.add_thread(2, "cpu-1"), run.add_thread(3, "cpu-2")};
  const size_t io = run.add_thread(4, "io <echo>");
  run.set(main_thread, 0, A::running);
  run.set(main_thread, 2 * kMs, A::blocked);  // joins the others
  run.set(cpu[0], 2 * kMs, A::running);
  run.set(cpu[1], 2 * kMs + 100 * kUs, A::waiting);
  run.set(io, 2 * kMs + 200 * kUs, A::blocked);
  int64_t at = 2 * kMs;
  int64_t io_ready = at + 1 * kMs;
  size_t holder = cpu[0];
  int next_cpu = 1;
  bool io_waiting = false;
  int switches = 0, io_turns = 0;
  const int64_t stop = duration_ns - 3 * kMs;
  while (at < stop) {
    if (holder == io) {  // a short burst, then blocking I/O releases the GIL
      at = std::min(at + 150 * kUs, stop);
      run.set(io, at, A::blocked);
      io_ready = at + 1 * kMs;
      holder = cpu[next_cpu];
      next_cpu = 1 - next_cpu;
      run.set(holder, at, A::running);
      continue;
    }
    const int64_t slot_end = std::min(at + kInterval, stop);
    if (!io_waiting && io_ready < slot_end) {
      run.set(io, io_ready, A::waiting);
      io_waiting = true;
    }
    run.mark(holder, slot_end - 60 * kUs, TimelineMark::drop_request);
    run.mark(holder, slot_end, TimelineMark::forced_drop);
    run.set(holder, slot_end, A::waiting);
    at = slot_end;
    ++switches;
    if (io_waiting && switches % 2 == 0) {
      holder = io;
      io_waiting = false;
      ++io_turns;
    } else {
      holder = cpu[next_cpu];
      next_cpu = 1 - next_cpu;
    }
    run.set(holder, at, A::running);
  }
  for (size_t lane : {cpu[0], cpu[1], io}) run.set(lane, stop, A::blocked);
  run.set(main_thread, stop, A::running);
  run.end(duration_ns);
  timeline.summary = {{"switches", std::to_string(switches)},
                      {"forced drops", std::to_string(switches)},
                      {"I/O turns", std::to_string(io_turns)},
                      {"policy", "interval"}};
  return timeline;
}

// `threads` threads with ~`slices` short random running / waiting /
// blocked slices each: the page has to downsample.
Timeline dense_run(int threads, int slices, int64_t duration_ns) {
  Timeline timeline;
  timeline.title = "dense run";
  timeline.duration_ns = duration_ns;
  uint64_t state = 12345;
  const auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  };
  const int64_t mean = duration_ns / slices;
  for (int t = 0; t < threads; ++t) {
    TimelineLane lane{static_cast<uint64_t>(t + 1), "thread " + std::to_string(t + 1), {}, {}};
    for (int64_t at = 0; at < duration_ns;) {
      const int64_t length = std::min<int64_t>(mean / 2 + next() % mean, duration_ns - at);
      const uint32_t pick = next() % 10;
      const ThreadActivity activity = pick < 5 ? ThreadActivity::running
                                      : pick < 9 ? ThreadActivity::waiting
                                                 : ThreadActivity::blocked;
      lane.slices.push_back({at, at + length, activity});
      if (pick == 0) lane.instants.push_back({at, TimelineMark::drop_request});
      at += length;
    }
    timeline.lanes.push_back(std::move(lane));
  }
  return timeline;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

// ---------------------------------------------------------------------------
// Running Chromium

class TimelineBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kChromium, X_OK) != 0) {
      GTEST_SKIP() << kChromium << " is missing: install Debian's chromium package "
                   << "(.ci/install-deps does) to run the browser tests";
    }
    temp_.emplace("gilrun-timeline");
    dir_ = temp_->path();
  }

  fs::path write_page(const Timeline& timeline, const std::string& name) {
    std::ostringstream html;
    write_timeline_html(html, timeline);
    return write_page(html.str(), name);
  }
  fs::path write_page(const std::string& html, const std::string& name) {
    const fs::path page = dir_ / name;
    std::ofstream(page) << html;
    return page;
  }

  // Runs headless Chromium on `page` with `flags`; returns what it printed on
  // stdout. Fails the test if it does not exit cleanly within the time limit.
  std::string run_chromium(const fs::path& page, const std::string& flags) {
    const fs::path profile = dir_ / "profile";
    const fs::path log = dir_ / "chromium.log";
    const std::string command =
        "timeout --kill-after=5 " + std::to_string(kChromiumTimeoutSeconds) + " " + kChromium +
        " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
        " --disable-background-networking --disable-component-update --disable-sync"
        " --disable-dev-shm-usage --user-data-dir=" + profile.string() +
        " --virtual-time-budget=5000 " + flags + " file://" + page.string() + " 2>" + log.string();
    FILE* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr) << command;
    if (pipe == nullptr) return "";
    std::string output;
    std::array<char, 65536> buffer;
    for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) output.append(buffer.data(), n);
    const int status = pclose(pipe);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    EXPECT_NE(code, 124) << "chromium was still running after " << kChromiumTimeoutSeconds
                         << " s and was killed";
    EXPECT_EQ(code, 0) << "chromium failed; its log:\n" << read_file(log);
    return output;
  }

  std::string dump_dom(const Timeline& timeline) {
    return run_chromium(write_page(timeline, "timeline.html"), "--dump-dom");
  }
  std::string dump_dom(const std::string& html) {
    return run_chromium(write_page(html, "timeline.html"), "--dump-dom");
  }

  // Takes a screenshot of the page; returns the PNG's bytes.
  std::string screenshot(const Timeline& timeline, const std::string& name) {
    const fs::path png = dir_ / (name + ".png");
    run_chromium(write_page(timeline, name + ".html"),
                 "--hide-scrollbars --window-size=1400,600 --screenshot=" + png.string());
    if (const char* keep = std::getenv("GILRUN_TIMELINE_SCREENSHOTS")) {
      std::error_code ignored;
      fs::create_directories(keep, ignored);
      fs::copy_file(png, fs::path(keep) / (name + ".png"), fs::copy_options::overwrite_existing,
                    ignored);
      fs::copy_file(dir_ / (name + ".html"), fs::path(keep) / (name + ".html"),
                    fs::copy_options::overwrite_existing, ignored);
    }
    return read_file(png);
  }

  static std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  static uint32_t big_endian_u32(const std::string& bytes, size_t at) {
    uint32_t value = 0;
    for (size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
    return value;
  }

  std::optional<gilrun_test::TempDir> temp_;  // made once the browser is known to be there
  fs::path dir_;
};

void expect_rendered_lanes(const std::string& dom, size_t lanes) {
  EXPECT_EQ(dom.find("data-render-error"), std::string::npos) << dom.substr(0, 2000);
  EXPECT_NE(dom.find("data-rendered=\"" + std::to_string(lanes) + "\""), std::string::npos)
      << "the page's script did not finish drawing:\n" << dom.substr(0, 2000);
  EXPECT_NE(dom.find("data-lanes=\"" + std::to_string(lanes) + "\""), std::string::npos);
  EXPECT_EQ(count_of(dom, "class=\"lane\" data-thread=\""), lanes);
}

TEST_F(TimelineBrowser, DrawsEveryLaneOfAThrashingRun) {
  const Timeline timeline = thrashing_run(1000 * kMs);
  const std::string dom = dump_dom(timeline);
  expect_rendered_lanes(dom, 4);
  for (const char* thread : {"data-thread=\"1\"", "data-thread=\"4\"", ">cpu-2<", ">io &lt;echo&gt;<"}) {
    EXPECT_NE(dom.find(thread), std::string::npos) << thread;
  }
  EXPECT_NE(dom.find("Whole run: 0 \xE2\x80\x93 1.000 s of 1.000 s"), std::string::npos);
}

// The page with a test script appended: it plays the user (hover over
// cpu-1's bar, scroll to zoom in, drag across a range) with real DOM events
// and leaves what the page showed in <body data-*> attributes for the DOM dump.
std::string page_with_user(const Timeline& timeline) {
  std::ostringstream html;
  write_timeline_html(html, timeline);
  std::string page = html.str();
  const char kUser[] = R"JS(<script>
(function () {
  var canvas = document.getElementById('timeline-canvas'), box = canvas.getBoundingClientRect();
  var lane = document.querySelector('.lane[data-thread="2"]').getBoundingClientRect();
  var y = lane.top + lane.height / 2, x = box.left + box.width * 0.37;
  var tooltip = document.getElementById('tooltip'), range = document.getElementById('view-range');
  function mouse(type, target, clientX) {
    target.dispatchEvent(new MouseEvent(type, { clientX: clientX, clientY: y, button: 0, bubbles: true, cancelable: true }));
  }
  mouse('mousemove', canvas, x);
  document.body.dataset.tooltip = tooltip.hidden ? 'hidden' : tooltip.textContent;
  canvas.dispatchEvent(new WheelEvent('wheel', { deltaY: -400, clientX: x, clientY: y, bubbles: true, cancelable: true }));
  document.body.dataset.afterWheel = range.textContent;
  mouse('dblclick', canvas, x);
  document.body.dataset.afterReset = range.textContent;
  mouse('mousedown', canvas, box.left + box.width * 0.5);
  mouse('mousemove', window, box.left + box.width * 0.6);
  mouse('mouseup', window, box.left + box.width * 0.6);
  document.body.dataset.afterDrag = range.textContent;
})();
</script>
)JS";
  page.insert(page.rfind("</body>"), kUser);
  return page;
}

std::string attribute(const std::string& dom, const std::string& name) {
  const std::string open = name + "=\"";
  const size_t start = dom.find(open);
  if (start == std::string::npos) return "<missing " + name + ">";
  const size_t end = dom.find('"', start + open.size());
  return dom.substr(start + open.size(), end - start - open.size());
}

TEST_F(TimelineBrowser, TooltipAndZoomFollowTheMouse) {
  const std::string dom = dump_dom(page_with_user(thrashing_run(1000 * kMs)));
  expect_rendered_lanes(dom, 4);
  const std::string tooltip = attribute(dom, "data-tooltip");
  EXPECT_NE(tooltip.find("cpu-1 (thread 2)"), std::string::npos) << tooltip;
  EXPECT_TRUE(tooltip.find("running") != std::string::npos ||
              tooltip.find("waiting") != std::string::npos) << tooltip;
  EXPECT_NE(tooltip.find("start "), std::string::npos) << tooltip;
  EXPECT_NE(tooltip.find("duration 5.000 ms"), std::string::npos) << tooltip;
  const std::string after_wheel = attribute(dom, "data-after-wheel");
  EXPECT_EQ(after_wheel.rfind("Showing ", 0), 0u) << after_wheel;
  EXPECT_EQ(attribute(dom, "data-after-reset").rfind("Whole run: ", 0), 0u);
  // Dragging across 50%..60% of the plot shows 500 ms .. 600 ms, give or
  // take the pixel that MouseEvent's integer coordinates round to.
  const std::string after_drag = attribute(dom, "data-after-drag");
  double from_ms = 0, to_ms = 0;
  ASSERT_EQ(std::sscanf(after_drag.c_str(), "Showing %lf ms \xE2\x80\x93 %lf ms", &from_ms, &to_ms), 2)
      << after_drag;
  EXPECT_NEAR(from_ms, 500, 2);
  EXPECT_NEAR(to_ms, 600, 2);
}

// Hovering over a forced drop names the line its holder was at (the
// attribution of runtime/blame/), and the page lists both tables.
TEST_F(TimelineBrowser, ForcedDropTooltipNamesTheHoldersLine) {
  Timeline timeline = thrashing_run(200 * kMs);
  timeline.sites = {"culprit.lua:25 (hold [C] in culprit)"};
  for (TimelineInstant& instant : timeline.lanes[1].instants) {
    if (instant.mark == TimelineMark::forced_drop) instant.site = 0;
  }
  timeline.holders = {GilSite{"culprit.lua:25", "hold [C] in culprit", 0.3, 6, 0.07}};
  timeline.waiters = {GilSite{"culprit.lua:42", "sleep [C] in io", 0.4, 4, 0.3}};
  std::ostringstream html;
  write_timeline_html(html, timeline);
  std::string page = html.str();
  // Zoom to 2 ms around cpu-1's first forced drop (so the drop request 60 us
  // before it is far away in pixels), then hover over the drop.
  const char kUser[] = R"JS(<script>
(function () {
  var t = window.gilrunTimeline, lane = t.data.lanes[1], at = 0, drop = -1;
  for (var i = 0; i < lane.marks.length; i += 3) {
    at += lane.marks[i];
    if (lane.marks[i + 1] === 1) { drop = at; break; }
  }
  t.zoomTo(drop - 1e6, drop + 1e6);
  var canvas = document.getElementById('timeline-canvas'), box = canvas.getBoundingClientRect();
  var row = document.querySelector('.lane[data-thread="2"]').getBoundingClientRect();
  var x = box.left + box.width * (drop - t.view.t0) / (t.view.t1 - t.view.t0);
  canvas.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: row.top + row.height / 2, bubbles: true }));
  var tooltip = document.getElementById('tooltip');
  document.body.dataset.tooltip = tooltip.hidden ? 'hidden' : tooltip.textContent;
  document.body.dataset.heldRows = String(document.querySelectorAll('#held-table tbody tr').length);
  document.body.dataset.waitedRows = String(document.querySelectorAll('#waited-table tbody tr').length);
})();
</script>
)JS";
  page.insert(page.rfind("</body>"), kUser);
  const std::string dom = dump_dom(page);
  expect_rendered_lanes(dom, 4);
  const std::string tooltip = attribute(dom, "data-tooltip");
  EXPECT_NE(tooltip.find("forced drop at"), std::string::npos) << tooltip;
  EXPECT_NE(tooltip.find("held at culprit.lua:25 (hold [C] in culprit)"), std::string::npos) << tooltip;
  EXPECT_EQ(attribute(dom, "data-held-rows"), "1");
  EXPECT_EQ(attribute(dom, "data-waited-rows"), "1");
  EXPECT_NE(dom.find("GIL held while others waited"), std::string::npos);
  EXPECT_NE(dom.find("waited for the GIL at"), std::string::npos);
}

TEST_F(TimelineBrowser, DrawsADownsampledDenseRun) {
  const std::string dom = dump_dom(dense_run(4, 200000, 10000 * kMs));
  expect_rendered_lanes(dom, 4);
}

TEST_F(TimelineBrowser, DrawsAnEmptyRun) {
  expect_rendered_lanes(dump_dom(Timeline{}), 0);
}

TEST_F(TimelineBrowser, ScreenshotOfAThrashingRunIsAPicture) {
  const std::string png = screenshot(thrashing_run(1000 * kMs), "timeline_thrashing");
  ASSERT_GT(png.size(), 24u) << "no screenshot was written";
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(big_endian_u32(png, 16), 1400u);  // IHDR width
  EXPECT_EQ(big_endian_u32(png, 20), 600u);   // IHDR height
  // A blank or unstyled page compresses to a few KB; bars and text do not.
  EXPECT_GT(png.size(), 20000u);
}

TEST_F(TimelineBrowser, ScreenshotOfADenseRunIsAPicture) {
  const std::string png = screenshot(dense_run(4, 200000, 10000 * kMs), "timeline_dense");
  ASSERT_GT(png.size(), 24u) << "no screenshot was written";
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(png.size(), 20000u);
}

}  // namespace
}  // namespace gilrun
