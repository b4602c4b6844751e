// gil_blame_test.cpp — GIL attribution by source line (runtime/blame/):
// gil.stats().holders/waiters, gil.hold, and the command line's --stats
// tables and --gil-profile file on scripts/culprit.lua.
#include <gilrun/modules.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "child_run.h"
#include "guarded_test.h"
#include "lua_fixture.h"

namespace gilrun_test {
namespace {

class GilBlameTest : public LuaTest {};

// A thread in gil.hold keeps the GIL from the main thread, which spins in
// Lua until the thread is done: the main thread asks it to drop and waits.
TEST_F(GilBlameTest, HoldInCIsBlamedOnTheCallingLine) {
  EXPECT_TRUE(Ok(run(R"(
    local done = false
    local t = thread.spawn(function()
      gil.hold(0.05)                         -- line 4: the culprit
      done = true
    end)
    while not done do end
    t:join()
    local s = gil.stats()
    assert(#s.holders >= 1, "no holders")
    local top = s.holders[1]
    assert(top.where == "test.lua:4", "top holder at " .. tostring(top.where))
    assert(top["function"]:find("hold [C]", 1, true), top["function"])
    assert(top.count >= 1 and top.total > 0.02 and top.longest <= top.total, "figures")
    assert(#s.waiters >= 1, "no waiters")
    for _, w in ipairs(s.waiters) do assert(type(w.where) == "string" and w.total > 0) end
  )")));
}

TEST_F(GilBlameTest, NobodyWaitsNothingIsBlamed) {
  EXPECT_TRUE(Ok(run(R"(
    gil.hold(0.001)
    local s = gil.stats()
    assert(#s.holders == 0 and #s.waiters == 0, "blamed with nobody waiting")
  )")));
}

TEST_F(GilBlameTest, HoldChecksItsArgument) {
  const gilrun::RunResult r = run("gil.hold(-1)");
  EXPECT_FALSE(r);
  EXPECT_TRUE(Contains(r.message, "bad argument #1 to 'hold'"));
}

// Under ticks the periodic hook asks for the waiters without request_drop:
// the holders table used to be empty or a third of the waiting, and a C
// function's time went to whatever line the next tick found.
class GilBlameTicks : public GuardedTest {};

TEST_F(GilBlameTicks, HeldTimeCoversTheWaitingAndACFunctionIsBlamedOnItsCaller) {
  gilrun::Options o;
  o.policy = "ticks";
  o.switch_interval = kTestInterval;
  o.libraries = [](lua_State* L) { gilrun::preload_modules(L); };
  gilrun::Interpreter interp(o);
  const gilrun::RunResult r = interp.run_string(R"(
    local thread, gil, time = require "thread", require "gil", require "time"
    -- Two spinning threads: each one's waiting is the other's holding.
    -- (The main thread only joins: a third thread waiting at the same time
    -- would count twice in the waiting, once in the holding.)
    local stop, deadline = false, time.monotonic() + 3
    local function spin()
      local n = 0
      while not stop do
        n = n + 1
        if n % 10000 == 0 and (gil.stats().wait_time > 0.03 or time.monotonic() > deadline) then
          stop = true
        end
      end
    end
    local a, b = thread.spawn(spin), thread.spawn(spin)
    a:join() b:join()
    local s = gil.stats()
    local held, waited = 0, 0
    for _, h in ipairs(s.holders) do held = held + h.total end
    for _, w in ipairs(s.waiters) do waited = waited + w.total end
    -- Each thread may carry up to 1 ms not yet attributed (ticks.cpp), and a
    -- wait while nobody holds (the kernel has yet to run the woken waiter)
    -- has no holder: measured 0.44-0.88 of the waiting, 0.25-0.38 before.
    assert(held + 0.002 >= 0.4 * waited, ("held %.3f s while others waited %.3f s"):format(held, waited))
    -- A C function that keeps the GIL: its caller's line, not the next tick's.
    local held_before = {}
    for _, h in ipairs(s.holders) do held_before[h.where] = h.total end
    local done = false
    local culprit = "test.lua:" .. (debug.getinfo(1, "l").currentline + 2)
    local t = thread.spawn(function()
      gil.hold(0.05)                         -- the culprit
      for i = 1, 1000 do done = i end        -- the ticks after it land here
      done = true
    end)
    while done ~= true do end
    t:join()
    local best, best_total = nil, 0
    for _, h in ipairs(gil.stats().holders) do
      local grown = h.total - (held_before[h.where] or 0)
      if grown > best_total then best, best_total = h, grown end
    end
    assert(best and best.where == culprit, "most held at " .. tostring(best and best.where))
    assert(best["function"]:find("hold [C]", 1, true), best["function"])
    assert(best_total > 0.02, best_total)
  )", "@test.lua");
  EXPECT_TRUE(Ok(r));
}

// run() runs a shell command and returns its stdout (stderr with 2>&1).
std::string run(const std::string& command) { return gilrun_test::run_shell(command).out; }

// culprit_line() is the line number of gil.hold in scripts/culprit.lua.
int culprit_line() {
  std::ifstream in(GILRUN_SOURCE_DIR "/scripts/culprit.lua");
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find("gil.hold(") != std::string::npos && line.find("--") > line.find("gil.hold("))
      return n;
  }
  return -1;
}

TEST(GilBlameCli, CulpritLineIsFirstWithMostOfTheWaiting) {
  const std::string profile = ::testing::TempDir() + "gil_blame_test.folded";
  const std::string out = run(std::string("cd " GILRUN_SOURCE_DIR " && " GILRUN_BINARY
                                          " --stats --gil-profile=") +
                              profile + " scripts/culprit.lua 0.5 2>&1");
  const std::string where = "scripts/culprit.lua:" + std::to_string(culprit_line());
  const size_t table = out.find("GIL held while others waited");
  ASSERT_NE(table, std::string::npos) << out;
  std::istringstream rows(out.substr(table));
  std::string title, header, first;
  std::getline(rows, title);
  std::getline(rows, header);
  std::getline(rows, first);
  EXPECT_EQ(first.rfind(where, 0), 0u) << out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(first, m, std::regex(R"(([0-9.]+)%)"))) << first;
  EXPECT_GE(std::stod(m[1]), 90.0) << out;
  EXPECT_NE(out.find("waited for the GIL at:"), std::string::npos) << out;

  // Every line of the profile is a collapsed stack: frames; a count.
  std::ifstream in(profile);
  std::string line;
  int lines = 0;
  bool culprit_held = false;
  const std::regex collapsed(R"(^[^;\n]+( \[(held while others waited|waited for the GIL)\])(;[^;\n]+)+ [0-9]+$)");
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_TRUE(std::regex_match(line, collapsed)) << line;
    if (line.rfind("culprit [held while others waited];", 0) == 0 &&
        line.find("(" + where + ");hold [C] ") != std::string::npos) {
      culprit_held = true;
    }
  }
  EXPECT_GT(lines, 0);
  EXPECT_TRUE(culprit_held) << "no held stack ends in the culprit's gil.hold";
  std::remove(profile.c_str());
}

// --stats=json carries the same tables as gil.stats(), and the timeline page
// names the culprit's line on its forced drops and in its held table.
TEST(GilBlameCli, StatsJsonAndTimelineNameTheCulprit) {
  const std::string timeline = ::testing::TempDir() + "gil_blame_test.html";
  const std::string out = run(std::string("cd " GILRUN_SOURCE_DIR " && " GILRUN_BINARY
                                          " --stats=json --timeline=") +
                              timeline + " scripts/culprit.lua 0.3 2>&1");
  const std::string where = "scripts/culprit.lua:" + std::to_string(culprit_line());
  const size_t holders = out.find("\"holders\":[{\"where\":\"" + where + "\"");  // first
  ASSERT_NE(holders, std::string::npos) << out;
  EXPECT_NE(out.find("\"function\":\"hold [C] in ", holders), std::string::npos) << out;
  const size_t waiters = out.find("\"waiters\":[{\"where\":");
  ASSERT_NE(waiters, std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out.substr(waiters), std::regex(R"("total":[0-9.]+,"count":[1-9][0-9]*,"longest":[0-9.]+)")))
      << out;

  std::ifstream in(timeline);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t sites = html.find("\"sites\":[");
  ASSERT_NE(sites, std::string::npos);
  EXPECT_NE(html.find("\"" + where + " (hold [C] in ", sites), std::string::npos)
      << html.substr(sites, 400);
  const size_t held = html.find("id=\"held-table\"");
  ASSERT_NE(held, std::string::npos);
  EXPECT_NE(html.find("<tbody>\n<tr><td>" + where + "</td>", held), std::string::npos)
      << html.substr(held, 600);
  std::remove(timeline.c_str());
}

}  // namespace
}  // namespace gilrun_test
