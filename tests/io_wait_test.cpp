// io_wait_test.cpp — spin_until_ready() (wait/io_wait.h), the bounded spin
// a process pool's parent and its workers make before they sleep: a byte
// that arrives while it spins is seen (and still there to read), a peer
// that hangs up ends it, and with nothing coming it ends on its own once
// its budget is spent. Nothing is timed: a spin that never ended would hit
// the test's deadline.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "deadline.h"
#include "wait/io_wait.h"

namespace {

using gilrun::spin_until_ready;
using gilrun_test::TestDeadline;

// Far longer than any test's deadline: such a spin ends only because the
// descriptor became ready.
constexpr auto kUntilReady = std::chrono::hours(1);

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0); }
  ~SocketPair() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
};

TEST(SpinUntilReady, SeesAByteWrittenWhileItSpinsAndLeavesItToRead) {
  TestDeadline deadline(std::chrono::seconds(60), "the spin to see the byte");
  SocketPair s;
  std::promise<void> spinning;
  std::thread writer([&] {
    spinning.get_future().wait();
    const char c = 'x';
    EXPECT_EQ(write(s.fd[1], &c, 1), 1);
  });
  spinning.set_value();
  EXPECT_TRUE(spin_until_ready(s.fd[0], POLLIN, kUntilReady));
  writer.join();
  char c = 0;
  EXPECT_EQ(read(s.fd[0], &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(SpinUntilReady, APeerThatHangsUpEndsIt) {
  TestDeadline deadline(std::chrono::seconds(60), "the spin to see the hang-up");
  SocketPair s;
  std::promise<void> spinning;
  std::thread closer([&] {
    spinning.get_future().wait();
    close(s.fd[1]);
    s.fd[1] = -1;
  });
  spinning.set_value();
  EXPECT_TRUE(spin_until_ready(s.fd[0], POLLIN, kUntilReady));
  closer.join();
  char c;
  EXPECT_EQ(read(s.fd[0], &c, 1), 0);  // end of file: what a pool sees of a dead worker
}

TEST(SpinUntilReady, EndsWhenItsBudgetOrTheDeadlineIsSpentAndNothingCame) {
  TestDeadline deadline(std::chrono::seconds(60), "an idle spin to end");
  SocketPair s;
  EXPECT_FALSE(spin_until_ready(s.fd[0], POLLIN, std::chrono::milliseconds(1)));
  EXPECT_FALSE(spin_until_ready(s.fd[0], POLLIN, kUntilReady, gilrun::Clock::now()));
  EXPECT_FALSE(spin_until_ready(s.fd[0], POLLIN, std::chrono::microseconds(0)));
}

}  // namespace
