// guarded_test.h — GuardedTest: the fixture of tests that make their own
// interpreters in the test body (LuaTest, lua_fixture.h, owns one instead).
// A hang anywhere in the test fails with a message after
// kDefaultTestDeadline (deadline.h); the LeakCheck (leak_check.h) takes its
// baseline before the body runs and checks child processes, zombies and open
// hubs once everything the body made is gone. A suite uses it by name:
//
//   class Embedding : public gilrun_test::GuardedTest {};
//   TEST_F(Embedding, ...) { gilrun::Interpreter interp; ... }
//
// A parameterised suite derives GuardedTest and
// ::testing::WithParamInterface<T>.
#pragma once

#include <gtest/gtest.h>

#include "deadline.h"
#include "leak_check.h"

namespace gilrun_test {

class GuardedTest : public ::testing::Test {
 protected:
  TestDeadline deadline_;  // first: destroyed last, so it also covers the leak check
  LeakCheck leaks_;
};

}  // namespace gilrun_test
