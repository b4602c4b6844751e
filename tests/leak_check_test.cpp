// leak_check_test.cpp — LeakCheck (leak_check.h) fails a test for each leak
// it names, and for nothing else. Children are made with fork() and kept in
// a known state with pipes and waitid(WNOWAIT) (exited, not reaped), never
// with sleeps.
#include "leak_check.h"

#include <gilrun/gilrun.h>
#include <gilrun/modules.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "lua_fixture.h"
#include "process/child_process.h"

namespace gilrun_test {
namespace {

// failures_of(f) runs f and returns the messages of the failures it raised,
// which do not fail this test.
template <class F>
std::vector<std::string> failures_of(F f) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    f();
  }
  std::vector<std::string> messages;
  for (int i = 0; i < results.size(); ++i) messages.push_back(results.GetTestPartResult(i).message());
  return messages;
}

::testing::AssertionResult Reports(const std::vector<std::string>& failures,
                                   std::vector<std::string> parts) {
  std::string all;
  for (const std::string& f : failures) all += f + "\n";
  if (failures.size() != parts.size())
    return ::testing::AssertionFailure() << failures.size() << " failures, not " << parts.size() << ":\n" << all;
  for (const std::string& part : parts)
    if (all.find(part) == std::string::npos) return ::testing::AssertionFailure() << "no \"" << part << "\" in:\n" << all;
  return ::testing::AssertionSuccess();
}

// A child that exits once `*release` is closed on our side.
pid_t fork_waiting_child(int* release) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[1]);
    char c;
    while (read(fds[0], &c, 1) < 0) {}
    _exit(0);
  }
  close(fds[0]);
  *release = fds[1];
  return pid;
}

TEST(LeakCheck, PassesWhenNothingIsLeft) {
  EXPECT_TRUE(Reports(failures_of([] { LeakCheck check; }), {}));
}

TEST(LeakCheck, FailsOnAChildStillRunningButNotOnOneFromBefore) {
  int release_before = -1, release = -1;
  const pid_t before = fork_waiting_child(&release_before);
  pid_t child = -1;
  const std::vector<std::string> failures = failures_of([&] {
    LeakCheck check;
    child = fork_waiting_child(&release);
  });
  EXPECT_TRUE(Reports(failures, {"child process " + std::to_string(child) + " still runs after the test"}));
  close(release);
  close(release_before);
  EXPECT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_EQ(waitpid(before, nullptr, 0), before);
}

TEST(LeakCheck, FailsOnAZombie) {
  pid_t child = -1;
  EXPECT_TRUE(Reports(failures_of([&] {
                        LeakCheck check;
                        child = fork();
                        if (child == 0) _exit(0);
                        siginfo_t info{};
                        waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT);  // exited, not reaped
                      }),
                      {"is a zombie after the test"}));
  EXPECT_EQ(waitpid(child, nullptr, 0), child);
}

TEST(LeakCheck, FailsOnAChildProcessLeftAlive) {
  int in[2];
  ASSERT_EQ(pipe(in), 0);
  std::unique_ptr<gilrun::ChildProcess> process;
  EXPECT_TRUE(Reports(failures_of([&] {
                        LeakCheck check;
                        gilrun::SpawnSpec spec;
                        spec.argv = {GILRUN_BINARY, "-e", "io.read()"};  // waits for its stdin
                        spec.fds = {{in[0], 0}};
                        std::string error;
                        process = gilrun::ChildProcess::spawn(spec, &error);
                        EXPECT_TRUE(process) << error;
                      }),
                      {"ChildProcess objects", "still runs after the test"}));
  close(in[0]);
  close(in[1]);
  process.reset();  // kills and reaps it
  EXPECT_TRUE(Reports(failures_of([] { LeakCheck check; }), {}));
}

TEST(LeakCheck, FailsOnAHubLeftOpen) {
  std::unique_ptr<gilrun::Interpreter> interp;
  EXPECT_TRUE(Reports(failures_of([&] {
                        LeakCheck check;
                        interp = std::make_unique<gilrun::Interpreter>(gilrun::Options{});
                        gilrun::preload_modules(*interp);
                        EXPECT_TRUE(Ok(interp->run_string("require('green').spawn(function() end):join()")));
                      }),
                      {"hubs are still open"}));
  interp.reset();  // the close frees it
}

}  // namespace
}  // namespace gilrun_test
