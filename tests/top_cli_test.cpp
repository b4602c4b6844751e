// top_cli_test.cpp — `gilrun top` against a running gilrun (tests/data/
// top_target.lua: two CPU-bound threads until stdin closes), and the
// monitor page it reads (runtime/monitor/): the same numbers as gil.stats(),
// owner-only, gone at exit. Synchronised on the target's "ready" line and on
// top's own output, never on sleeps.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <regex>
#include <string>
#include <vector>

#include <gilrun/gilrun.h>
#include <gilrun/modules.h>

#include "child_run.h"
#include "guarded_test.h"
#include "monitor/reader.h"

namespace {

// Target runs `gilrun top_target.lua` (child_run.h), its stdin kept open:
// it runs until close_stdin().
gilrun_test::ChildSpec target_spec() {
  gilrun_test::ChildSpec spec;
  spec.args = {GILRUN_TEST_DATA "/top_target.lua"};
  spec.keep_stdin = true;
  return spec;
}

class Target : public gilrun_test::Child {
 public:
  Target() : Child(target_spec()) {}
  int wait() { return finish().exit_status; }
};

// run() runs a shell command; returns its stdout and (in *status) its exit.
std::string run(const std::string& command, int* status = nullptr) {
  const gilrun_test::ChildResult r = gilrun_test::run_shell(command);
  if (status) *status = r.exit_status;
  return r.out;
}

std::string top(const std::string& args, int* status = nullptr) {
  return run(std::string(GILRUN_BINARY " top ") + args + " 2>&1", status);
}

std::string page_of(int pid) {
  for (const auto& f : gilrun::monitor::list_pages()) {
    if (f.pid == pid) return f.path;
  }
  return "";
}

TEST(TopCli, OnceAndJsonShowTheThreadsAndTheirSwitches) {
  Target target;
  ASSERT_EQ(target.line(), "ready\n");
  const std::string pid = std::to_string(target.pid());

  int status = -1;
  const std::string list = top("", &status);
  EXPECT_EQ(status, 0) << list;
  EXPECT_NE(list.find("\n" + pid + " "), std::string::npos) << list;

  const std::string once = top(pid + " --once --interval=200ms", &status);
  EXPECT_EQ(status, 0) << once;
  for (const char* part : {"policy interval", "cpu-a", "cpu-b", "main", "switches/s"}) {
    EXPECT_NE(once.find(part), std::string::npos) << part << " in\n" << once;
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(once, m, std::regex(R"(switches/s +([0-9.]+))"))) << once;
  EXPECT_GT(std::stod(m[1]), 0) << once;

  const std::string json = top(pid + " --json --interval=100ms --count=2", &status);
  EXPECT_EQ(status, 0) << json;
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = json.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(json.substr(at, nl - at));
  }
  ASSERT_EQ(lines.size(), 2u) << json;
  const std::regex sample(R"(^\{"pid":)" + pid + R"(,.*"switches_per_second":([0-9.]+),.*"threads":\[.*\]\}$)");
  for (const auto& line : lines) {
    ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
    EXPECT_GT(std::stod(m[1]), 0) << line;
    EXPECT_NE(line.find(R"("name":"cpu-a")"), std::string::npos) << line;
  }
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

TEST(TopCli, PageIsTheOwnersAloneAndGoneAtExit) {
  Target target;
  ASSERT_EQ(target.line(), "ready\n");
  const std::string path = page_of(target.pid());
  ASSERT_FALSE(path.empty());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, getuid());
  // Another user cannot attach (needs root to become one, and setpriv).
  if (getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0) {
    int status = -1;
    const std::string out = run("setpriv --reuid=nobody --regid=nogroup --clear-groups " GILRUN_BINARY
                                " top " + std::to_string(target.pid()) + " --once 2>&1", &status);
    EXPECT_EQ(status, 1) << out;
    EXPECT_NE(out.find("cannot read"), std::string::npos) << out;
  }
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << path << " left behind";
}

TEST(TopCli, SurvivesTheTargetExiting) {
  Target target;
  ASSERT_EQ(target.line(), "ready\n");
  gilrun_test::Child top_json(gilrun_test::shell_spec(
      std::string(GILRUN_BINARY " top ") + std::to_string(target.pid()) + " --json --interval=50ms 2>&1"));
  const std::string first = top_json.line();  // top is watching
  EXPECT_NE(first.find("\"exited\":false"), std::string::npos) << first;
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
  std::string last;
  for (std::string line; !(line = top_json.line()).empty();) last = line;
  const gilrun_test::ChildResult r = top_json.finish();
  EXPECT_EQ(r.exit_status, 0) << r.describe();
  EXPECT_NE(last.find("\"exited\":true"), std::string::npos) << last;

  // The screen says so too (stdout not a terminal: plain screens).
  int status = -1;
  const std::string out = top(std::to_string(target.pid()), &status);
  EXPECT_EQ(status, 1) << out;  // nothing left to watch
}

// capture_until() polls a tmux pane until `ready(screen)` holds (up to 10 s):
// waiting for what top draws, not for a fixed time.
template <class Ready>
std::string capture_until(const std::string& tmux, Ready&& ready) {
  std::string screen;
  for (int i = 0; i < 500; ++i) {
    screen = run(tmux + " capture-pane -p -t top 2>/dev/null");
    if (ready(screen)) break;
    usleep(20000);
  }
  return screen;
}

// In a real terminal (tmux): the threads and a switch rate appear, a resize
// redraws to the new width, and the target's exit ends top with status 0.
TEST(TopTmux, DrawsResizesAndSurvivesTheTargetExiting) {
  if (access("/usr/bin/tmux", X_OK) != 0) GTEST_SKIP() << "no tmux";
  Target target;
  ASSERT_EQ(target.line(), "ready\n");
  const std::string tmux = "tmux -L gilrun-top-test-" + std::to_string(getpid());
  int status = -1;
  run(tmux + " new-session -d -s top -x 100 -y 30 '" GILRUN_BINARY " top " +
          std::to_string(target.pid()) + " --interval=100ms; echo EXIT=$?; sleep 60'",
      &status);
  ASSERT_EQ(status, 0);
  std::string screen = capture_until(tmux, [](const std::string& s) {
    return s.find("cpu-b") != std::string::npos && std::regex_search(s, std::regex(R"(switches/s +[1-9])"));
  });
  EXPECT_NE(screen.find("cpu-a"), std::string::npos) << screen;
  EXPECT_TRUE(std::regex_search(screen, std::regex(R"(switches/s +[1-9])"))) << screen;

  run(tmux + " resize-window -t top -x 50 -y 20");
  // Redrawn for 50 columns: the header is cut to fit, not wrapped onto the
  // next line (which starts with "GIL" again).
  const auto redrawn = [](const std::string& s) {
    const size_t nl = s.find('\n');
    return s.find("gilrun top") == 0 && nl != std::string::npos && nl <= 50 &&
           s.compare(nl + 1, 3, "GIL") == 0;
  };
  screen = capture_until(tmux, redrawn);
  EXPECT_TRUE(redrawn(screen)) << screen;

  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
  screen = capture_until(tmux, [](const std::string& s) { return s.find("EXIT=") != std::string::npos; });
  EXPECT_NE(screen.find("has exited"), std::string::npos) << screen;
  EXPECT_NE(screen.find("EXIT=0"), std::string::npos) << screen;
  run(tmux + " kill-server 2>/dev/null");
}

// The page holds the lock's own counters: what gil.stats() says.
class TopPage : public gilrun_test::GuardedTest {};

TEST_F(TopPage, SameNumbersAsStats) {
  gilrun::Options options;
  options.switch_interval = std::chrono::milliseconds(1);
  gilrun::Interpreter interp(options);
  gilrun::preload_modules(interp);
  ASSERT_TRUE(interp.run_string(R"(
    local thread = require "thread"
    local function spin() local t = os.clock() while os.clock() - t < 0.05 do end end
    local a, b = thread.spawn(spin), thread.spawn(spin)
    a:join(); b:join()
  )"));
  std::string path;
  for (const auto& f : gilrun::monitor::list_pages()) {
    if (f.pid == getpid()) path = f.path;  // the newest interpreter of this process
  }
  ASSERT_FALSE(path.empty());
  gilrun::monitor::PageView view;
  std::string error;
  ASSERT_TRUE(view.open(path, &error)) << error;
  const gilrun::Stats stats = interp.stats();  // takes and drops the GIL once
  const gilrun::monitor::Sample s = view.sample();
  EXPECT_GT(s.switches, 0u);
  EXPECT_EQ(s.switches, stats.switches);
  EXPECT_EQ(s.drop_requests, stats.drop_requests);
  EXPECT_EQ(s.forced_drops, stats.forced_drops);
  EXPECT_EQ(s.futile_wakeups, stats.futile_wakeups);
  EXPECT_EQ(s.acquisitions, stats.acquisitions + 0);  // stats() took the GIL: counted in both
  EXPECT_NEAR(s.wait_time, stats.wait_time, 1e-6);
  EXPECT_NEAR(s.hold_time, stats.hold_time, 0.01);
  interp.close();
  EXPECT_NE(access(path.c_str(), F_OK), 0) << path << " left behind";
}

}  // namespace
