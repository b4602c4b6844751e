// green_options_test.cpp — the embedding options of green threads: the stack
// size (its range, Lua's C-call limit scaled to it, the guard page under a
// host function's own recursion) and the block monitor's report sink.
#include <gtest/gtest.h>
#include <lua.hpp>

#include <stdexcept>
#include <string>

#include "gilrun/gilrun.h"
#include "gilrun/modules.h"
#include "green/fiber.h"
#include "guarded_test.h"
#include "lua_fixture.h"
#include "report_sink.h"
#include "sanitizers.h"

namespace gilrun_test {
namespace {

using gilrun::Fiber;

gilrun::Options with_stack(std::size_t bytes) {
  gilrun::Options o;
  o.green_stack_size = bytes;
  o.publish_gil = false;
  return o;
}

// Every test: a deadline and a leak check around it (guarded_test.h).
class GreenStack : public GuardedTest {};
class GreenStackDeathTest : public GuardedTest {};
class GreenBlockReport : public GuardedTest {};

TEST_F(GreenStack, ASizeOutOfRangeIsAClearError) {
  for (std::size_t bad : {std::size_t{4096}, std::size_t{64 * 1024 - 1}, std::size_t{1} << 30}) {
    try {
      gilrun::Interpreter interp(with_stack(bad));
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(Contains(e.what(), "between 64 KiB and 256 MiB")) << bad;
    }
  }
}

TEST_F(GreenStack, SizesAreWholePagesAndTheDefaultDependsOnGuardPages) {
  EXPECT_EQ(Fiber::stack_size(64 * 1024 + 1), 64 * 1024 + 4096);
  EXPECT_EQ(Fiber::stack_size(0), Fiber::guard_pages() ? gilrun::kDefaultFiberStack
                                                       : gilrun::kDefaultFiberStackNoGuard);
}

TEST_F(GreenStack, CLevelsGrowWithTheStackUpToLuasLimit) {
  const int small = Fiber::c_levels(64 * 1024);
  EXPECT_GT(small, 0);
  EXPECT_LT(small, Fiber::c_levels(256 * 1024));
  EXPECT_EQ(Fiber::c_levels(64 * 1024 * 1024), gilrun::kLuaMaxCCalls - 1);
}

// Every way Lua code nests C calls ends in the catchable "stack overflow"
// error on every stack size: without the green thread's C-call budget
// (green_thread.cpp) the small stacks would run into their guard page.
class GreenStackSizes : public GuardedTest, public ::testing::WithParamInterface<std::size_t> {};

TEST_P(GreenStackSizes, DeepCRecursionIsALuaErrorNotACrash) {
  gilrun::Interpreter interp(with_stack(GetParam()));
  gilrun::preload_modules(interp);
  const gilrun::RunResult r = interp.run_string(R"lua(local green = require "green"
    local cases = {
      function() local t = setmetatable({}, {__index = function(t, k) return t[k + 1] end})
                 return t[1] end,
      function() local function f() local ok, e = pcall(f); if not ok then error(e, 0) end end
                 f() end,
      function() local function g(s) return (s:gsub(".", g)) end return g("abc") end,
      function() local function cmp(a, b) table.sort({3, 2, 1}, cmp) return a < b end
                 table.sort({3, 2, 1}, cmp) end,
      function() local function c() return tostring(setmetatable({}, {__tostring = c})) end
                 return c() end,
      function() local function r() return coroutine.wrap(r)() end return r() end,
      function() return assert(load("return " .. string.rep("(", 1000) .. "1" ..
                                    string.rep(")", 1000))) end,
      function() local function f(s) return string.format("%s", setmetatable({}, {__tostring = f}))
                 end return f() end,
    }
    for i, case in ipairs(cases) do
      local g = green.spawn(function()
        local ok, err = pcall(case)
        return ok, ok and "no error" or err
      end)
      local _, err = g:join()
      assert(tostring(err):find("overflow") or tostring(err):find("C levels"), i .. ": " .. tostring(err))
    end
  )lua",
                                                "@stack.lua");
  EXPECT_TRUE(Ok(r));
  EXPECT_TRUE(Ok(interp.wait_for_threads()));
}

INSTANTIATE_TEST_SUITE_P(Sizes, GreenStackSizes,
                         ::testing::Values(std::size_t{64 * 1024}, std::size_t{128 * 1024},
                                           std::size_t{0}, std::size_t{1024 * 1024}),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return info.param == 0 ? std::string("Default")
                                                  : std::to_string(info.param / 1024) + "KiB";
                         });

// A host C function that recurses on its own: Lua's C-call count never sees it.
int recurse_in_c(lua_State* L) {
  struct Frame {
    static int down(int n) {
      volatile char buffer[1024];
      buffer[0] = static_cast<char>(n);
      return n == 0 ? buffer[0] : down(n - 1) + buffer[0];
    }
  };
  lua_pushinteger(L, Frame::down(static_cast<int>(luaL_checkinteger(L, 1))));
  return 1;
}

TEST_F(GreenStackDeathTest, AHostFunctionsOwnRecursionHitsTheGuardPageWithAMessage) {
  if (!Fiber::guard_pages()) GTEST_SKIP() << "the kernel has no MADV_GUARD_INSTALL";
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan does not survive a fiber's stack overflow";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        gilrun::Interpreter interp(with_stack(64 * 1024));
        gilrun::preload_modules(interp);
        interp.register_function("recurse_in_c", recurse_in_c);
        interp.run_string(R"(local green = require "green"
          green.spawn(recurse_in_c, 1000000):join())",
                          "@guard.lua");
      },
      "a green thread overflowed its 64 KiB stack");
}

TEST_F(GreenStack, AHostFunctionWithinTheStackRuns) {
  gilrun::Interpreter interp(with_stack(64 * 1024));
  gilrun::preload_modules(interp);
  interp.register_function("recurse_in_c", recurse_in_c);
  EXPECT_TRUE(Ok(interp.run_string(R"(local green = require "green"
    local n = green.spawn(recurse_in_c, 10):join()
    assert(n == 55, n))",
                                   "@within.lua")));
}

// The block monitor's reports go to Options::on_green_block when it is set.
TEST_F(GreenBlockReport, GoesToTheSinkWithTheGreenThreadAndItsTraceback) {
  // The script spins until the report arrives: if it never does, fail with a message.
  TestDeadline deadline(kDefaultTestDeadline, "the block monitor's report");
  reports_received = 0;
  gilrun::GreenBlockReport got;
  gilrun::Options o;
  o.publish_gil = false;
  o.green_block_warn = std::chrono::milliseconds(5);
  o.on_green_block = [&](const gilrun::GreenBlockReport& r) {
    if (reports_received++ == 0) got = r;
  };
  gilrun::Interpreter interp(o);
  gilrun::preload_modules(interp);
  interp.register_function("reported", report_arrived);
  EXPECT_TRUE(Ok(interp.run_string(R"(local green = require "green"
    local function spin() while not reported() do end end
    green.spawn(spin):join())",
                                   "@block.lua")));
  EXPECT_EQ(reports_received.load(), 1) << got.traceback;
  EXPECT_GT(got.green_id, 0u);  // ids are per process: other tests spawned some
  EXPECT_EQ(got.limit, std::chrono::milliseconds(5));
  EXPECT_GE(got.ran, got.limit);
  EXPECT_TRUE(Contains(got.traceback, "block.lua:2: in "));
  // The runtime's own wording names no command-line flag.
  const std::string text = gilrun::default_green_block_message(got);
  EXPECT_TRUE(Contains(text, "gilrun: green thread #" + std::to_string(got.green_id) +
                                 " has run for "));
  EXPECT_TRUE(Contains(text, "without yielding (limit 5 ms)"));
  EXPECT_EQ(text.find("--"), std::string::npos) << text;
}

}  // namespace
}  // namespace gilrun_test
