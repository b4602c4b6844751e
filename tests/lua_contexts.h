// lua_contexts.h — ContextTest: a LuaTest whose chunk runs twice, once per
// context a wait can be made in: as written, in the main OS thread with OS
// threads as the other parties, and inside a green thread with green
// threads as the other parties (`thread.spawn` is green.spawn there). The
// README promises that callers cannot tell the difference; an rlock owned
// by the OS thread rather than by the green thread was one (green thread B
// could take and release the rlock green thread A held).
//
//   using PipeWaits = ContextTest;
//   TEST_P(PipeWaits, ...) { EXPECT_TRUE(Ok(run(R"(...)"))); }
//   GILRUN_CONTEXTS(PipeWaits);
#pragma once

#include <string>

#include "lua_fixture.h"

namespace gilrun_test {

enum class Context { os_threads, green_threads };

class ContextTest : public LuaTest, public ::testing::WithParamInterface<Context> {
 protected:
  gilrun::RunResult run(const std::string& code) {
    if (GetParam() == Context::os_threads) return LuaTest::run(code);
    return LuaTest::run("local green = require 'green'; local thread = {spawn = green.spawn}\n"
                        "green.spawn(function()\n" + code + "\nend):join()");
  }
};

inline std::string context_name(const ::testing::TestParamInfo<Context>& info) {
  return info.param == Context::os_threads ? "OsThreads" : "GreenThreads";
}

#define GILRUN_CONTEXTS(suite)                                                          \
  INSTANTIATE_TEST_SUITE_P(Contexts, suite,                                             \
                           ::testing::Values(::gilrun_test::Context::os_threads,        \
                                             ::gilrun_test::Context::green_threads),    \
                           ::gilrun_test::context_name)

}  // namespace gilrun_test
