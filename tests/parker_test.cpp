// parker_test.cpp — Parker (runtime/wait/parker.h): a permit is never lost,
// whether unpark() comes before park(), while park() spins or once it
// sleeps; a timed park with no unpark times out; and many park/unpark pairs
// across two threads lose none.
//
// Whether the parking thread has gone to sleep is read from the kernel, not
// guessed with a sleep: a futex wait is a voluntary context switch, counted in
// /proc/self/task/TID/status, and the spin (pause, sched_yield) is not one.
// The other thread waits for that count to move before it unparks.
#include "wait/parker.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "deadline.h"

namespace gilrun {
namespace {

using namespace std::chrono_literals;

// The spin park() does in the runtime's waits (wait_list.cpp).
constexpr Clock::duration kRuntimeSpin = 50us;
// A spin no test outlasts: an unpark sent while it runs lands in the spin.
constexpr Clock::duration kLongSpin = 60s;

pid_t this_thread_id() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// voluntary_switches() is the count of times thread `tid` blocked in the
// kernel (slept), -1 if it cannot be read.
long voluntary_switches(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
  const std::string key = "voluntary_ctxt_switches:";
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) == 0) return std::stol(line.substr(key.size()));
  }
  return -1;
}

TEST(Parker, APermitGrantedBeforeParkIsNotLost) {
  Parker p;
  p.unpark();
  EXPECT_TRUE(p.park(Clock::now()));  // a deadline already passed: the permit alone decides
  EXPECT_FALSE(p.park(Clock::now())) << "one permit is consumed once";
}

TEST(Parker, PermitsDoNotAddUp) {
  Parker p;
  p.unpark();
  p.unpark();
  EXPECT_TRUE(p.park(Clock::now()));
  EXPECT_FALSE(p.park(Clock::now())) << "a binary permit: two unparks grant one";
}

TEST(Parker, AnUnparkDuringTheSpinIsNotLostAndNeedsNoSleep) {
  gilrun_test::TestDeadline deadline;
  Parker p;
  std::atomic<bool> parking{false};
  long before = -1, after = -1;
  bool got = false;
  std::thread parker([&] {
    const pid_t tid = this_thread_id();
    before = voluntary_switches(tid);
    parking.store(true);
    got = p.park(std::nullopt, kLongSpin);  // lost: it would spin 60 s, then sleep for good
    after = voluntary_switches(tid);
  });
  while (!parking.load()) yield_cpu();
  p.unpark();
  parker.join();
  EXPECT_TRUE(got);
  ASSERT_GE(before, 0) << "no /proc/self/task/TID/status";
  EXPECT_EQ(after, before) << "the parker slept although the permit came while it spun";
}

TEST(Parker, AnUnparkAfterTheParkerFellAsleepWakesIt) {
  gilrun_test::TestDeadline deadline;
  for (const Clock::duration spin : {Clock::duration::zero(), kRuntimeSpin}) {
    Parker p;
    std::atomic<pid_t> tid{0};
    std::atomic<long> before{-1};
    bool got = false;
    std::thread parker([&] {
      const pid_t self = this_thread_id();
      before.store(voluntary_switches(self));
      tid.store(self);
      got = p.park(std::nullopt, spin);  // lost: it sleeps for good, and the deadline fails the test
    });
    while (tid.load() == 0) yield_cpu();
    ASSERT_GE(before.load(), 0) << "no /proc/self/task/TID/status";
    // Asleep: the futex wait was the thread's first block since `before`.
    while (voluntary_switches(tid.load()) == before.load()) yield_cpu();
    p.unpark();
    parker.join();
    EXPECT_TRUE(got) << "spin " << std::chrono::duration<double, std::micro>(spin).count() << " us";
  }
}

TEST(Parker, ATimedParkWithNoUnparkTimesOut) {
  for (const Clock::duration spin : {Clock::duration::zero(), kRuntimeSpin, kLongSpin}) {
    Parker p;
    const Clock::time_point until = Clock::now() + 2ms;
    EXPECT_FALSE(p.park(until, spin));
    EXPECT_GE(Clock::now(), until) << "timed out before its deadline";
    EXPECT_FALSE(p.park(Clock::now(), spin)) << "a deadline already passed";
    // The time-out took no permit with it: the next unpark is seen.
    p.unpark();
    EXPECT_TRUE(p.park(Clock::now(), spin));
  }
}

// Two threads hand a turn back and forth, each parking on its own Parker
// until the other unparks it: any lost unpark leaves both parked (and the
// deadline fails the test); the turn count checks that each park returned
// for its own unpark, in order. The spin alternates so that unparks reach
// both a spinning and a sleeping parker.
TEST(Parker, ManyParkUnparkPairsAcrossTwoThreadsLoseNone) {
  gilrun_test::TestDeadline deadline(gilrun_test::kDefaultTestDeadline, "a lost unpark");
  constexpr int kRounds = 20000;
  Parker ping, pong;
  std::atomic<int> turn{0};
  int pong_rounds = 0, ping_rounds = 0, out_of_turn = 0;
  std::thread other([&] {
    for (int i = 0; i < kRounds; ++i) {
      EXPECT_TRUE(ping.park(std::nullopt, i % 2 ? kRuntimeSpin : Clock::duration::zero()));
      if (turn.load(std::memory_order_relaxed) != 2 * i + 1) ++out_of_turn;
      turn.store(2 * i + 2, std::memory_order_relaxed);
      ++pong_rounds;
      pong.unpark();
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    turn.store(2 * i + 1, std::memory_order_relaxed);
    ping.unpark();
    EXPECT_TRUE(pong.park(std::nullopt, i % 3 ? kRuntimeSpin : Clock::duration::zero()));
    if (turn.load(std::memory_order_relaxed) != 2 * i + 2) ++out_of_turn;
    ++ping_rounds;
  }
  other.join();
  EXPECT_EQ(ping_rounds, kRounds);
  EXPECT_EQ(pong_rounds, kRounds);
  EXPECT_EQ(turn.load(), 2 * kRounds);
  EXPECT_EQ(out_of_turn, 0);
  // Nothing is left over: every permit was consumed by its own park.
  EXPECT_FALSE(ping.park(Clock::now()));
  EXPECT_FALSE(pong.park(Clock::now()));
}

}  // namespace
}  // namespace gilrun
