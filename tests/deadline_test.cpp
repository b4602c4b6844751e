// deadline_test.cpp — TestDeadline (deadline.h): a stuck test ends with a
// message naming it, a test that finishes is left alone.
#include "deadline.h"

#include <gtest/gtest.h>

#include <future>

namespace gilrun_test {
namespace {

TEST(TestDeadline, AFinishedTestIsLeftAlone) {
  TestDeadline deadline(std::chrono::seconds(30), "nothing");
  SUCCEED();
}  // the destructor returns at once: the watchdog was told before its limit

TEST(TestDeadlineDeathTest, AStuckTestFailsWithAMessageNamingIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        TestDeadline deadline(std::chrono::milliseconds(200), "a promise nobody keeps");
        std::promise<void> never;
        never.get_future().wait();  // a hang, as a join on a stuck thread is
      },
      ::testing::ExitedWithCode(1),
      "\\[  FAILED  \\] TestDeadlineDeathTest\\.AStuckTestFailsWithAMessageNamingIt: did not finish "
      "within 0.2 s \\(waiting for a promise nobody keeps\\)");
}

}  // namespace
}  // namespace gilrun_test
