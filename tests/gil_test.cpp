// gil_test.cpp — unit tests of gilrun::Gil with bare ThreadStates on
// std::threads.
//
// No lua_State is involved: these ThreadStates are never attached, so their
// EvalBreaker is unbound and a drop request only sets ThreadState::
// drop_request. A test thread that holds the GIL plays the eval breaker by
// polling that flag and calling Gil::yield_if_requested().
//
// "spin_until" polls state that another thread is about to change (no
// sleeps): it only waits for the thing the test is about to check.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core.h"
#include "deadline.h"
#include "gil/gil.h"
#include "gil/wait_line.h"
#include "thread_state.h"

namespace gilrun {
namespace {

using namespace std::chrono_literals;
using gilrun_test::kDefaultTestDeadline;
using gilrun_test::TestDeadline;

// A switch interval no test outlives: no drop request is ever made.
constexpr std::chrono::nanoseconds kNever = std::chrono::hours(1);

template <class Pred>
void spin_until(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

std::shared_ptr<Core> make_core(std::chrono::nanoseconds interval) {
  Options options;
  options.switch_interval = interval;
  return std::make_shared<Core>(options);
}

// Two threads' states on one Core.
struct TwoThreads {
  explicit TwoThreads(std::chrono::nanoseconds interval)
      : core(make_core(interval)), a(core, 1, "a"), b(core, 2, "b") {}
  Gil& gil() { return *core->gil; }
  std::shared_ptr<Core> core;
  ThreadState a;
  ThreadState b;
};

TEST(Gil, UncontendedTakeAndDropCountAcquisitionsAndOneSwitch) {
  TwoThreads t(kNever);
  for (int i = 0; i < 3; ++i) {
    t.gil().take(t.a);
    EXPECT_TRUE(t.gil().locked());
    t.gil().drop(t.a);
    EXPECT_FALSE(t.gil().locked());
  }
  const GilCounters total = t.gil().totals();
  EXPECT_EQ(total.acquisitions, 3u);
  EXPECT_EQ(total.switches, 1u);  // the holder only changed on the first take
  EXPECT_EQ(total.drop_requests, 0u);
  EXPECT_EQ(total.forced_drops, 0u);
  EXPECT_EQ(total.wait_time, Clock::duration::zero());
  EXPECT_EQ(t.gil().counters(t.a).acquisitions, 3u);
  EXPECT_EQ(t.gil().counters(t.b).acquisitions, 0u);
  EXPECT_EQ(t.gil().waiting(), 0);
}

TEST(Gil, ExitingDropForgetsTheHolder) {
  TwoThreads t(kNever);
  t.gil().take(t.a);
  t.gil().drop(t.a, /*exiting=*/true);
  t.gil().take(t.a);  // counted as a new holder: the old one may be a reused address
  t.gil().drop(t.a);
  EXPECT_EQ(t.gil().totals().switches, 2u);
}

TEST(Gil, DropHandsTheGilToTheWaitingThread) {
  TestDeadline deadline(kDefaultTestDeadline, "b to take the GIL and a to get it back");
  TwoThreads t(kNever);
  t.gil().take(t.a);
  std::promise<void> b_holds, b_may_drop;
  std::thread other([&] {
    t.gil().take(t.b);
    b_holds.set_value();
    b_may_drop.get_future().wait();
    t.gil().drop(t.b);
  });
  spin_until([&] { return t.gil().waiting() == 1; });
  EXPECT_TRUE(t.gil().locked());
  t.gil().drop(t.a);
  b_holds.get_future().wait();
  EXPECT_TRUE(t.gil().locked());
  EXPECT_EQ(t.gil().waiting(), 0);
  b_may_drop.set_value();
  t.gil().take(t.a);  // back again once b drops
  other.join();
  t.gil().drop(t.a);

  const GilCounters total = t.gil().totals();
  EXPECT_EQ(total.acquisitions, 3u);
  EXPECT_EQ(total.switches, 3u);  // a -> b -> a
  EXPECT_EQ(total.drop_requests, 0u);
  const GilCounters b = t.gil().counters(t.b);
  EXPECT_EQ(b.acquisitions, 1u);
  EXPECT_EQ(b.switches, 1u);
  EXPECT_GT(b.wait_time, Clock::duration::zero());
  EXPECT_GE(b.longest_wait, b.wait_time);
}

TEST(Gil, TimedOutWaiterSetsTheHoldersDropRequest) {
  TestDeadline deadline(kDefaultTestDeadline, "the waiter's drop request");
  TwoThreads t(1ms);
  t.gil().take(t.a);
  std::thread waiter([&] {
    t.gil().take(t.b);
    t.gil().drop(t.b);
  });
  // The waiter's 1 ms wait times out while a still holds the GIL.
  spin_until([&] { return t.a.drop_request.load(); });
  EXPECT_TRUE(t.gil().locked());  // a request does not take the GIL away
  EXPECT_GE(t.gil().totals().drop_requests, 1u);
  EXPECT_GE(t.gil().counters(t.b).drop_requests, 1u);
  EXPECT_EQ(t.gil().counters(t.a).drop_requests, 0u);
  EXPECT_TRUE(t.gil().yield_if_requested(t.a));
  waiter.join();
  t.gil().drop(t.a);
  EXPECT_EQ(t.gil().counters(t.a).forced_drops, 1u);
}

TEST(Gil, YieldIfRequestedWaitsUntilTheWaiterTookTheGil) {
  TestDeadline deadline(kDefaultTestDeadline, "the waiter to take the GIL");
  TwoThreads t(kNever);  // the test raises the drop request itself
  t.gil().take(t.a);
  std::atomic<bool> b_ran{false};
  std::thread waiter([&] {
    t.gil().take(t.b);
    b_ran = true;
    t.gil().drop(t.b);
  });
  spin_until([&] { return t.gil().waiting() == 1; });
  EXPECT_FALSE(t.gil().yield_if_requested(t.a));  // nothing requested: keep it
  EXPECT_EQ(t.gil().totals().switches, 1u);

  t.a.drop_request = true;
  EXPECT_TRUE(t.gil().yield_if_requested(t.a));
  // Forced switching: a got the GIL back only after b had it.
  EXPECT_TRUE(b_ran.load());
  EXPECT_FALSE(t.a.drop_request.load());
  EXPECT_TRUE(t.gil().locked());
  waiter.join();
  t.gil().drop(t.a);

  const GilCounters total = t.gil().totals();
  EXPECT_EQ(total.switches, 3u);  // a -> b -> a
  EXPECT_EQ(total.forced_drops, 1u);
  EXPECT_EQ(t.gil().counters(t.a).forced_drops, 1u);
  EXPECT_EQ(t.gil().counters(t.b).forced_drops, 0u);
}

TEST(Gil, YieldWithNobodyWaitingTakesTheGilStraightBack) {
  TwoThreads t(kNever);
  t.gil().take(t.a);
  t.a.drop_request = true;  // a request whose waiter is gone
  EXPECT_TRUE(t.gil().yield_if_requested(t.a));
  EXPECT_TRUE(t.gil().locked());
  t.gil().drop(t.a);
  EXPECT_EQ(t.gil().totals().switches, 1u);
  EXPECT_EQ(t.gil().totals().acquisitions, 2u);
}

TEST(Gil, SwitchIntervalCanBeChangedAtRunTime) {
  TestDeadline deadline(kDefaultTestDeadline, "a drop request under the new interval");
  TwoThreads t(kNever);
  EXPECT_EQ(t.gil().switch_interval(), kNever);
  t.gil().set_switch_interval(0ns);
  EXPECT_EQ(t.gil().switch_interval(), 1ns);  // clamped to something positive
  t.gil().set_switch_interval(1ms);
  EXPECT_EQ(t.gil().switch_interval(), 1ms);

  // The next wait uses the new interval: with the old one (an hour) this
  // drop request would never come.
  t.gil().take(t.a);
  std::thread waiter([&] {
    t.gil().take(t.b);
    t.gil().drop(t.b);
  });
  spin_until([&] { return t.a.drop_request.load(); });
  EXPECT_TRUE(t.gil().yield_if_requested(t.a));
  waiter.join();
  t.gil().drop(t.a);
  EXPECT_GE(t.gil().totals().drop_requests, 1u);
}

TEST(Gil, WithGilReleasedLetsAnotherThreadTakeIt) {
  TestDeadline deadline(kDefaultTestDeadline, "another thread to take the released GIL");
  TwoThreads t(kNever);
  t.gil().take(t.a);
  with_gil_released(t.a, [&] {
    std::thread other([&] {
      t.gil().take(t.b);
      t.gil().drop(t.b);
    });
    other.join();  // would deadlock if the GIL were still held
  });
  EXPECT_TRUE(t.gil().locked());
  EXPECT_EQ(t.gil().counters(t.b).acquisitions, 1u);
  EXPECT_EQ(t.gil().counters(t.a).acquisitions, 2u);
  t.gil().drop(t.a);
}

TEST(Gil, WithGilReleasedRetakesTheGilWhenTheBlockingPartThrows) {
  TwoThreads t(kNever);
  t.gil().take(t.a);
  EXPECT_THROW(with_gil_released(t.a, [] { throw std::runtime_error("io failed"); }),
               std::runtime_error);
  EXPECT_TRUE(t.gil().locked());
  EXPECT_EQ(t.gil().counters(t.a).acquisitions, 2u);
  t.gil().drop(t.a);
}

// Threads parked by finalize() never return, so they cannot be joined. This
// test detaches them and leaks them together with their Core on purpose; the
// pointers stay reachable from a global so LeakSanitizer stays quiet.
std::vector<std::shared_ptr<void>>* const parked_forever = new std::vector<std::shared_ptr<void>>;

TEST(Gil, FinalizeParksEveryOtherTakerForGood) {
  TestDeadline deadline(kDefaultTestDeadline, "both takers to queue behind finalize");
  auto core = make_core(1ms);
  auto finalizer = std::make_shared<ThreadState>(core, 1, "main");
  auto early = std::make_shared<ThreadState>(core, 2, "waiting before finalize");
  auto late = std::make_shared<ThreadState>(core, 3, "arriving after finalize");
  auto got_it = std::make_shared<std::atomic<int>>(0);
  for (const std::shared_ptr<void>& p :
       {std::shared_ptr<void>(finalizer), std::shared_ptr<void>(early),
        std::shared_ptr<void>(late), std::shared_ptr<void>(got_it)}) {
    parked_forever->push_back(p);
  }
  Gil& gil = *core->gil;
  auto take_forever = [gil = &gil, got_it](ThreadState* ts) {
    std::thread([gil, got_it, ts] {
      gil->take(*ts);
      ++*got_it;  // never reached
    }).detach();
  };

  gil.take(*finalizer);
  take_forever(early.get());
  spin_until([&] { return gil.waiting() == 1; });
  gil.finalize(*finalizer);
  take_forever(late.get());
  spin_until([&] { return gil.waiting() == 2; });

  // The finalizer itself can still drop and re-take; the GIL being free
  // does not let the parked threads in.
  gil.drop(*finalizer);
  gil.take(*finalizer);
  gil.drop(*finalizer);
  gil.take(*finalizer);
  EXPECT_EQ(gil.waiting(), 2);
  EXPECT_EQ(gil.counters(*early).acquisitions, 0u);
  EXPECT_EQ(gil.counters(*late).acquisitions, 0u);
  EXPECT_EQ(gil.counters(*finalizer).acquisitions, 3u);
  EXPECT_EQ(got_it->load(), 0);
  gil.drop(*finalizer);
}

// A holder that has not serviced its drop request yet is asked once: the
// waiters' later time-outs only nudge its breaker (issue 16: 10,000 queued
// waiters counted 54,170 requests for 171 drops).
TEST(Gil, RepeatedTimeOutsMakeOneDropRequestPerTenure) {
  TestDeadline deadline(kDefaultTestDeadline, "the waiter's drop request");
  TwoThreads t(100us);
  t.gil().take(t.a);
  std::thread waiter([&] {
    t.gil().take(t.b);
    t.gil().drop(t.b);
  });
  spin_until([&] { return t.a.drop_request.load(); });
  // Let the waiter time out many more times while the request is pending.
  const Clock::time_point until = Clock::now() + 20ms;
  spin_until([&] { return Clock::now() >= until; });
  EXPECT_EQ(t.gil().totals().drop_requests, 1u);
  EXPECT_EQ(t.gil().counters(t.b).drop_requests, 1u);
  EXPECT_TRUE(t.gil().yield_if_requested(t.a));  // b runs, then a is back
  EXPECT_EQ(t.gil().totals().forced_drops, 1u);
  waiter.join();
  t.gil().drop(t.a);
}

// Only one waiter keeps time; when it takes the GIL another must take the
// job over, or the next holder is never asked to drop. Each waiter here
// keeps the GIL until it is asked to drop it, so the chain ends only if a
// timekeeper remains after every hand-over.
TEST(Gil, EveryHolderOfAQueueIsAskedToDrop) {
  TestDeadline deadline(kDefaultTestDeadline, "every holder to be asked to drop");
  constexpr int kWaiters = 6;
  auto core = make_core(200us);
  Gil& gil = *core->gil;
  std::vector<std::unique_ptr<ThreadState>> states;
  for (int i = 0; i <= kWaiters; ++i) {
    states.push_back(std::make_unique<ThreadState>(core, i + 1, "t" + std::to_string(i)));
  }
  ThreadState& first = *states[0];
  gil.take(first);
  std::vector<std::thread> waiters;
  std::atomic<int> served{0};
  for (int i = 1; i <= kWaiters; ++i) {
    waiters.emplace_back([&, i] {
      ThreadState& ts = *states[i];
      gil.take(ts);
      spin_until([&] { return ts.drop_request.load() || served.load() == kWaiters - 1; });
      ++served;
      gil.drop(ts);
    });
  }
  spin_until([&] { return gil.waiting() == kWaiters; });
  spin_until([&] { return first.drop_request.load(); });
  gil.drop(first);
  for (auto& w : waiters) w.join();
  EXPECT_EQ(served.load(), kWaiters);
  // Every holder but the last was asked, each once.
  EXPECT_EQ(gil.totals().drop_requests, static_cast<uint64_t>(kWaiters));
}

// Issue 16's starvation (TopCli.* hung about one run in three): two threads
// hand the GIL to each other on drop requests while a third waits. With one
// timekeeper woken only by its own timer and the other waiters woken on
// release, the first waiter (the timekeeper) kept asking the holder to drop,
// every drop went to the other spinner, and each of its later time-outs
// found the GIL taken again. A release wakes the longest waiter now, so the
// one that came first gets the GIL at the first forced drop.
TEST(Gil, TheFirstWaiterGetsTheGilBeforeTwoSpinnersHandItBackAndForth) {
  TestDeadline deadline(kDefaultTestDeadline, "the first waiter to get the GIL");
  constexpr int kGiveUpAfter = 50;  // hand-offs between the spinners
  auto core = make_core(500us);
  Gil& gil = *core->gil;
  ThreadState a(core, 1, "a"), b(core, 2, "b"), first(core, 3, "first");
  std::atomic<bool> all_queued{false}, stop{false};
  std::atomic<int> hand_offs{0};
  std::promise<void> a_holds;
  auto spinner = [&](ThreadState& ts, std::promise<void>* holds) {
    gil.take(ts);
    if (holds != nullptr) holds->set_value();
    spin_until([&] { return all_queued.load(); });
    while (!stop.load()) {
      if (ts.drop_request.load() && gil.yield_if_requested(ts) && ++hand_offs >= kGiveUpAfter) {
        stop = true;
      }
    }
    gil.drop(ts);
  };
  std::thread ta(spinner, std::ref(a), &a_holds);
  a_holds.get_future().wait();
  int hand_offs_before = -1;
  std::thread tf([&] {
    gil.take(first);
    hand_offs_before = hand_offs.load();
    stop = true;
    gil.drop(first);
  });
  spin_until([&] { return gil.waiting() == 1; });
  std::thread tb(spinner, std::ref(b), nullptr);
  spin_until([&] { return gil.waiting() == 2; });
  all_queued = true;  // a services drop requests from now on
  ta.join();
  tb.join();
  tf.join();
  EXPECT_EQ(hand_offs_before, 0) << "the first waiter was passed over";
  EXPECT_EQ(gil.counters(first).acquisitions, 1u);
}

// A GIL whose front waiter spins for longer than any test (front_spin 1 h):
// a holds it, and `waiter` (b) is on its way to take it and drop it at once.
// The test releases a and joins the waiter; a hang (the front waiter never
// gets the GIL) fails with a message.
struct AwakeFrontWaiter {
  explicit AwakeFrontWaiter(std::chrono::nanoseconds interval)
      : core(make_core(interval)), gil(Gil::create(spinning_forever(core->gil_settings))) {
    gil->take(a);
    waiter = std::thread([this] {
      gil->take(b);
      gil->drop(b);
    });
  }
  ~AwakeFrontWaiter() {
    if (waiter.joinable()) waiter.join();
  }
  static GilSettings spinning_forever(GilSettings settings) {
    settings.front_spin = std::chrono::hours(1);
    return settings;
  }
  gilrun_test::TestDeadline deadline{gilrun_test::kDefaultTestDeadline, "the front waiter to take the GIL"};
  std::shared_ptr<Core> core;
  std::unique_ptr<Gil> gil;
  ThreadState a{core, 1, "a"};
  ThreadState b{core, 2, "b"};
  std::thread waiter;
};

// The front of the waiting line waits awake for the release (wait_in_line):
// with a spin budget no test outlives it never sleeps, so it takes the GIL
// straight from its spin. Without the spin it slept on its condition
// variable and counted no awake take.
TEST(Gil, TheFrontWaiterCatchesTheReleaseAwake) {
  AwakeFrontWaiter t(kNever);
  spin_until([&] { return t.gil->waiting() == 1; });
  t.gil->drop(t.a);
  t.waiter.join();
  EXPECT_EQ(t.gil->counters(t.b).awake_takes, 1u);
  EXPECT_EQ(t.gil->totals().awake_takes, 1u);
  EXPECT_EQ(t.gil->counters(t.b).futile_wakeups, 0u);
}

// The front's spin does not postpone the timekeeper's request: the switch
// interval counts from the start of the wait and the spin ends at its
// deadline. With a spin that outlasts any test, a waiter that spun first and
// armed its timer afterwards never asked (this test hung).
TEST(Gil, TheFrontWaitersSpinEndsAtTheSwitchInterval) {
  AwakeFrontWaiter t(1ms);
  spin_until([&] { return t.a.drop_request.load(); });
  EXPECT_EQ(t.gil->counters(t.b).drop_requests, 1u);
  EXPECT_TRUE(t.gil->yield_if_requested(t.a));
  t.waiter.join();
  t.gil->drop(t.a);
}

// When the front takes the GIL, the next waiter is woken to wait awake for
// that holder's release, and the timekeeper's duty passes to the newest
// waiter; one thread is woken once even when it gets both.
TEST(WaitLine, LeavingTheFrontWakesTheNextWaiter) {
  auto core = make_core(kNever);
  ThreadState a(core, 1, "a"), b(core, 2, "b"), c(core, 3, "c"), d(core, 4, "d");
  WaitLine line;
  line.join(a);  // the timekeeper
  line.join(b);
  line.join(c);
  WaitLine::ToWake wake = line.leave(a);
  EXPECT_EQ(wake.front, &b);
  EXPECT_EQ(wake.timekeeper, &c);
  EXPECT_TRUE(line.keeps_time(c));
  line.join(d);
  wake = line.leave(d);  // not the front, not the timekeeper: nobody to wake
  EXPECT_EQ(wake.front, nullptr);
  EXPECT_EQ(wake.timekeeper, nullptr);
  wake = line.leave(b);
  EXPECT_EQ(wake.front, &c);
  EXPECT_EQ(wake.timekeeper, nullptr);  // c keeps time already
  wake = line.leave(c);
  EXPECT_EQ(wake.front, nullptr);
  EXPECT_EQ(wake.timekeeper, nullptr);
  EXPECT_TRUE(line.empty());
  line.join(a);
  line.join(b);
  wake = line.leave(a);  // b becomes the front and the timekeeper: woken once
  EXPECT_EQ(wake.front, &b);
  EXPECT_EQ(wake.timekeeper, nullptr);
  EXPECT_TRUE(line.keeps_time(b));
}

}  // namespace
}  // namespace gilrun
