// green_test.cpp — units under the green module: Fiber switching and its
// stack pool, and the hub's scheduling, with exact counts.
#include <lua.hpp>

#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "green/fiber.h"
#include "green/hub.h"
#include "green/timer_queue.h"
#include "lua_fixture.h"
#include "thread_state.h"

namespace gilrun_test {
namespace {

using gilrun::Fiber;

struct Counter {
  Fiber* fiber = nullptr;
  int steps = 0;
  std::vector<std::string>* log = nullptr;
  const char* name = "";
};

void count_three_times(void* arg) {
  auto& c = *static_cast<Counter*>(arg);
  for (int i = 0; i < 3; ++i) {
    ++c.steps;
    if (c.log) c.log->push_back(std::string(c.name) + std::to_string(i));
    c.fiber->suspend();
  }
  ++c.steps;
}

TEST(Fiber, ResumeRunsUntilTheNextSuspend) {
  Counter c;
  Fiber f(count_three_times, &c);
  c.fiber = &f;
  EXPECT_EQ(c.steps, 0);  // nothing runs before the first resume
  for (int expected = 1; expected <= 3; ++expected) {
    f.resume();
    EXPECT_EQ(c.steps, expected);
    EXPECT_FALSE(f.finished());
  }
  f.resume();
  EXPECT_EQ(c.steps, 4);
  EXPECT_TRUE(f.finished());
}

TEST(Fiber, TwoFibersInterleaveExactly) {
  std::vector<std::string> log;
  Counter a{nullptr, 0, &log, "a"};
  Counter b{nullptr, 0, &log, "b"};
  Fiber fa(count_three_times, &a);
  Fiber fb(count_three_times, &b);
  a.fiber = &fa;
  b.fiber = &fb;
  while (!fa.finished() || !fb.finished()) {
    if (!fa.finished()) fa.resume();
    if (!fb.finished()) fb.resume();
  }
  EXPECT_EQ(log, (std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "b2"}));
}

TEST(Fiber, AnUnstartedFiberTakesNoStack) {
  const std::size_t before = Fiber::stacks_in_use();
  {
    Counter c;
    Fiber f(count_three_times, &c);
    EXPECT_EQ(Fiber::stacks_in_use(), before);
  }
  EXPECT_EQ(Fiber::stacks_in_use(), before);
}

TEST(Fiber, StacksAreRecycled) {
  const std::size_t in_use = Fiber::stacks_in_use();
  const std::size_t mapped = Fiber::stacks_mapped();
  for (int i = 0; i < 1000; ++i) {
    Counter c;
    Fiber f(count_three_times, &c);
    c.fiber = &f;
    f.resume();
    EXPECT_EQ(Fiber::stacks_in_use(), in_use + 1);
    while (!f.finished()) f.resume();
  }
  EXPECT_EQ(Fiber::stacks_in_use(), in_use);
  EXPECT_LE(Fiber::stacks_mapped(), mapped + 1);  // one slot, reused 1000 times
}

// A slot a finished fiber gave back is free even while it sits in its
// thread's cache, which is handed to the shared pool only when the thread
// ends (after its joiners woke: GreenModule.AnOSThreadEndsOnlyWhenItsGreen-
// ThreadsHave saw the slot as still held about one run in three).
TEST(Fiber, ASlotInAnotherThreadsCacheIsNotInUse) {
  const std::size_t in_use = Fiber::stacks_in_use();
  std::promise<void> fiber_done, may_end;
  std::thread other([&] {
    Counter c;
    Fiber f(count_three_times, &c);
    c.fiber = &f;
    while (!f.finished()) f.resume();
    fiber_done.set_value();
    may_end.get_future().wait();  // the thread, and so its cache, lives on
  });
  fiber_done.get_future().wait();
  EXPECT_EQ(Fiber::stacks_in_use(), in_use);
  may_end.set_value();
  other.join();
}

TEST(Fiber, AFinishedFiberGivesItsStackBackAtOnce) {
  const std::size_t in_use = Fiber::stacks_in_use();
  Counter c;
  Fiber f(count_three_times, &c);
  c.fiber = &f;
  f.resume();
  EXPECT_EQ(Fiber::stacks_in_use(), in_use + 1);
  while (!f.finished()) f.resume();
  EXPECT_EQ(Fiber::stacks_in_use(), in_use);  // while f itself still exists
  f.resume();                                 // a finished fiber stays finished
  EXPECT_EQ(c.steps, 4);
  EXPECT_EQ(Fiber::stacks_in_use(), in_use);
}

// A fiber about to start trades the slot it was prepared with for one a
// finished fiber left warm (fiber.cpp's ThreadCache), so green threads that
// park without their stack all run on the same few faulted-in pages.
void note_stack_address(void* arg) {
  char here;
  *static_cast<uintptr_t*>(arg) = reinterpret_cast<uintptr_t>(&here);
}

TEST(Fiber, AFiberStartsOnTheSlotAFinishedFiberLeftWarm) {
  uintptr_t first = 0;
  uintptr_t second = 0;
  std::thread fresh([&] {  // a thread of its own: its slot caches start empty
    Fiber later(note_stack_address, &second);
    ASSERT_TRUE(later.prepare());  // a cold slot
    Fiber earlier(note_stack_address, &first);
    earlier.resume();  // another cold one, warm once it has run
    ASSERT_TRUE(earlier.finished());
    later.resume();
    ASSERT_TRUE(later.finished());
  });
  fresh.join();
  ASSERT_NE(first, 0u);
  ASSERT_NE(second, 0u);
  EXPECT_EQ(first, second) << "the second fiber did not run on the first one's slot";
}

TEST(Fiber, ManyLiveFibersGetDistinctStacks) {
  constexpr int kCount = 300;  // more than a thread's cache of free slots
  std::vector<Counter> counters(kCount);
  std::vector<std::unique_ptr<Fiber>> fibers;
  const std::size_t in_use = Fiber::stacks_in_use();
  for (auto& c : counters) {
    fibers.push_back(std::make_unique<Fiber>(count_three_times, &c));
    c.fiber = fibers.back().get();
    c.fiber->resume();
  }
  EXPECT_EQ(Fiber::stacks_in_use(), in_use + kCount);
  for (auto& f : fibers) {
    while (!f->finished()) f->resume();
  }
  fibers.clear();
  EXPECT_EQ(Fiber::stacks_in_use(), in_use);
  for (const auto& c : counters) EXPECT_EQ(c.steps, 4);
}

// Hub scheduling, observed through the main thread's hub.
class HubTest : public LuaTest {
 protected:
  uint64_t switches() {
    return read("green", [](lua_State*) {
      gilrun::Hub* hub = gilrun::ThreadState::current()->hub.load();
      return hub ? hub->switches() : 0;
    });
  }
  int alive() {
    return read("green", [](lua_State*) {
      gilrun::Hub* hub = gilrun::ThreadState::current()->hub.load();
      return hub ? hub->alive() : -1;
    });
  }
};

TEST_F(HubTest, EachYieldIsOneSwitch) {
  ASSERT_TRUE(Ok(run(R"(green = require "green"
    local list = {}
    for i = 1, 10 do list[i] = green.spawn(function() for _ = 1, 5 do green.yield() end end) end
  )")));
  EXPECT_EQ(alive(), 10);
  const uint64_t before = switches();
  ASSERT_TRUE(Ok(run("assert(green.joinall({}))")));  // nothing to join: no switch
  EXPECT_EQ(switches(), before);
  ASSERT_TRUE(Ok(run("green.yield()")));  // the root lets each run once
  EXPECT_EQ(switches(), before + 10);
  ASSERT_TRUE(Ok(interp_.wait_for_threads()));
  EXPECT_EQ(switches(), before + 60);  // 10 green threads x (start + 5 yields)
  EXPECT_EQ(alive(), 0);
}

TEST_F(HubTest, AWakeFromAnotherOSThreadSchedulesExactlyOnce) {
  ASSERT_TRUE(Ok(run(R"(green = require "green"
    local q = queue.new()
    got = 0
    local g = green.spawn(function() for _ = 1, 3 do got = got + q:get() end end)
    green.yield()              -- g starts and waits: 1 switch
    local t = thread.spawn(function() for i = 1, 3 do q:put(i) end end)
    t:join()                   -- the puts happen while the root waits in its hub
    g:join()
  )")));
  EXPECT_EQ(integer("got"), 6);
  // g ran once to start, then once per wake that found it parked: at most
  // 1 + 3 switches, at least 2 (all three puts may land in one wait).
  EXPECT_GE(switches(), 2u);
  EXPECT_LE(switches(), 4u);
}

// Deadlines come out earliest first however they went in: in order (the
// FIFO), out of order (the heap), and both mixed, ties in arrival order.
TEST(TimerQueue, TakesTheEarliestFirst) {
  using gilrun::TimerQueue;
  const auto t0 = gilrun::Clock::now();
  TimerQueue q;
  EXPECT_TRUE(q.empty());
  const int offsets[] = {10, 20, 20, 30, 5, 25, 40, 1, 30};  // ms; seq = position
  uint64_t seq = 0;
  for (int ms : offsets) q.add(TimerQueue::Timer{t0 + std::chrono::milliseconds(ms), seq++, nullptr});
  std::vector<std::pair<int, uint64_t>> got;
  while (!q.empty()) {
    const auto earliest = q.earliest();
    TimerQueue::Timer t = q.take();
    EXPECT_EQ(t.when, earliest);
    got.emplace_back(static_cast<int>(
                         std::chrono::duration_cast<std::chrono::milliseconds>(t.when - t0).count()),
                     t.seq);
  }
  const std::vector<std::pair<int, uint64_t>> expected = {
      {1, 7}, {5, 4}, {10, 0}, {20, 1}, {20, 2}, {25, 5}, {30, 3}, {30, 8}, {40, 6}};
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace gilrun_test
