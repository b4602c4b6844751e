// gil_micro.cpp — Google Benchmark micro-benchmarks of the GIL and the Parker.
//
//   BM_GilTakeDropUncontended/<policy>  one thread: Gil::take + Gil::drop
//                                       (goal <= 50 ns)
//   BM_GilHandoff/<policy>[_busy1ms]    two threads ping-pong the GIL through
//                                       voluntary drops (drop() -> the
//                                       waiter's take() returns)
//   BM_GilForcedSwitch/<policy>[_busy1ms]  the same through the forced path
//                                       (drop request -> yield_if_requested)
//   BM_ParkerWake/{hot,busy1ms}         two threads ping-pong Parker permits
//                                       (unpark() -> the sleeper's park())
//   BM_ParkerUncontended                one thread: unpark + park (permit
//                                       already there)
//   BM_Ref_*                            reference costs on this machine: a
//                                       mutex lock+unlock, a steady_clock
//                                       read, a notify with no waiter (the
//                                       ingredients of take+drop)
//
// "_busy1ms": the releaser runs 1 ms of CPU work before each hand-off (like
// a CPU-bound GIL holder), so the waiter's CPU has been idle that long (see
// busy()); the others hand off as soon as the waiter is asleep.
//
// The two-thread benchmarks time every single hand-off with steady_clock
// (stamped by the releasing thread just before it releases, read by the
// acquiring thread just after it acquired) and report, as counters, the
// median, p90, p99 and max hand-off in nanoseconds. "Time" of one iteration is
// one round trip (two hand-offs) plus the bookkeeping that makes sure the
// other thread is really asleep in take() before each hand-off, so read the
// counters, not the time column, for latency.
//
// No lua_State is involved: these use the runtime's private Gil, ThreadState
// and Parker directly (ThreadStates are never attached to an OS thread, so
// drop requests send no signals). The ticks policy is left out of the
// two-thread benchmarks: it needs a running VM to switch its periodic hook.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core.h"
#include "gil/gil.h"
#include "wait/parker.h"
#include "thread_state.h"

namespace {

using gilrun::Clock;
using gilrun::Core;
using gilrun::Gil;
using gilrun::Options;
using gilrun::Parker;
using gilrun::ThreadState;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// spin_until() waits for `pred`: spinning for up to 200 us (the other thread
// is normally just waking up and about to block), then sleeping in short
// steps, because on a busy 2-CPU machine a spinner can keep the thread it
// waits for off the CPU. This is bookkeeping between measured hand-offs,
// never inside one.
template <class Pred>
void spin_until(Pred&& pred) {
  const Clock::time_point give_up = Clock::now() + std::chrono::microseconds(200);
  while (!pred()) {
    if (Clock::now() < give_up) {
      for (int i = 0; i < 8; ++i) cpu_relax();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
}

pid_t current_tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// asleep() tells whether thread `tid` of this process is blocked in the
// kernel (state S or D in /proc), so that a wake-up we time is a real one,
// not a futex call that returns at once because it had not slept yet.
bool asleep(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;  // cannot tell: do not hang
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');  // "tid (comm) S ..."
  if (paren == nullptr || paren[1] == '\0') return true;
  return paren[2] == 'S' || paren[2] == 'D';
}

// Waits until thread `tid` is blocked inside Gil::take(): counted as a
// waiter and asleep in the kernel.
void wait_for_waiter(const Gil& gil, const std::atomic<pid_t>& tid) {
  spin_until([&] { return gil.waiting() >= 1 && asleep(tid.load()); });
}

// Waits until thread `tid` has blocked (in Parker::park()).
void wait_for_sleeper(const std::atomic<pid_t>& tid) {
  spin_until([&] { return tid.load() != 0 && asleep(tid.load()); });
}

// busy() is `us` microseconds of CPU work by the releaser before a hand-off:
// a CPU-bound holder, during which the waiter's CPU sits idle. On a VM an
// idle CPU may be handed back to the host (HLT), and waking a thread there
// costs more than waking one whose CPU is still warm: the "_busy1ms"
// variants measure that case (the one a GIL waiter behind a CPU-bound
// thread meets), the others hand off as soon as the waiter is asleep.
void busy(int us) {
  if (us <= 0) return;
  const Clock::time_point until = Clock::now() + std::chrono::microseconds(us);
  while (Clock::now() < until) cpu_relax();
}

std::shared_ptr<Core> make_core(const char* policy = "interval") {
  Options options;
  options.policy = policy;
  options.switch_interval = std::chrono::milliseconds(5);  // the default
  return std::make_shared<Core>(options);
}

// Puts median/p90/p99/max of `samples` (ns) into the benchmark's counters.
void report_latencies(benchmark::State& state, std::vector<int64_t>& samples) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    const size_t i = std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()));
    return static_cast<double>(samples[i]);
  };
  state.counters["median_ns"] = at(0.50);
  state.counters["p90_ns"] = at(0.90);
  state.counters["p99_ns"] = at(0.99);
  state.counters["max_ns"] = static_cast<double>(samples.back());
  state.counters["handoffs"] = static_cast<double>(samples.size());
}

// ---------------------------------------------------------------------------
// (a) Uncontended take + drop on one thread.

void BM_GilTakeDropUncontended(benchmark::State& state, const char* policy) {
  auto core = make_core(policy);
  ThreadState ts(core, 1, "bench");
  Gil& gil = *core->gil;
  for (auto _ : state) {
    gil.take(ts);
    gil.drop(ts);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_GilTakeDropUncontended, interval, "interval");
BENCHMARK_CAPTURE(BM_GilTakeDropUncontended, fifo, "fifo");
BENCHMARK_CAPTURE(BM_GilTakeDropUncontended, priority, "priority");
BENCHMARK_CAPTURE(BM_GilTakeDropUncontended, ticks, "ticks");

// Reference points for reading the number above: what its ingredients cost
// on this machine. take+drop does two lock/unlock pairs of the GIL's mutex,
// two steady_clock reads (hold-time statistics) and two condition-variable
// notifications with nobody waiting.
void BM_Ref_MutexLockUnlock(benchmark::State& state) {
  std::mutex m;
  for (auto _ : state) {
    m.lock();
    m.unlock();
  }
}
BENCHMARK(BM_Ref_MutexLockUnlock);

void BM_Ref_SteadyClockNow(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Clock::now());
}
BENCHMARK(BM_Ref_SteadyClockNow);

void BM_Ref_CondNotifyNoWaiter(benchmark::State& state) {
  std::condition_variable c;
  for (auto _ : state) c.notify_one();
}
BENCHMARK(BM_Ref_CondNotifyNoWaiter);

// ---------------------------------------------------------------------------
// (b) Contended hand-off: A and B pass the GIL back and forth. Before each
// release the releaser waits until the other thread is blocked inside
// Gil::take(), then stamps the clock and releases; the other thread reads the
// clock as soon as its take() (or yield_if_requested()) returns. The releaser
// never spins while the other thread wakes up (on 2 CPUs a spinner can steal
// the CPU the woken thread needs): it blocks, in yield_if_requested() for the
// forced path, on its Parker for the voluntary path.

enum class Release { voluntary, forced };

struct PingPong {
  PingPong(Release how_, const char* policy, int busy_us_)
      : how(how_), busy_us(busy_us_), core(make_core(policy)), gil(*core->gil) {}
  const Release how;
  const int busy_us;
  std::shared_ptr<Core> core;
  Gil& gil;
  std::atomic<int64_t> stamp{0};
  std::atomic<bool> stop{false};

  struct Side {
    Side(std::shared_ptr<Core> core, uint64_t id, const char* name) : ts(std::move(core), id, name) {}
    ThreadState ts;
    std::atomic<pid_t> tid{0};
    Parker ready;  // voluntary: "the other thread has the GIL now, queue up"
    std::vector<int64_t> samples;
  };

  // pass() is one hand-off from `me` (holding the GIL, the other thread
  // blocked in take()) to the other thread and back; on return `me` holds
  // the GIL again and has recorded the latency of the hand-off back to it.
  void pass(Side& me, Side& other) {
    wait_for_waiter(gil, other.tid);
    busy(busy_us);
    if (how == Release::forced) {
      // What a GIL waiter's timed-out wait does, then what the eval breaker
      // does: drop, wait until the waiter took it, queue up to take it back.
      me.ts.drop_request.store(true, std::memory_order_relaxed);
      stamp.store(now_ns(), std::memory_order_relaxed);
      gil.yield_if_requested(me.ts);
    } else {
      stamp.store(now_ns(), std::memory_order_relaxed);
      gil.drop(me.ts);
      me.ready.park(gilrun::Deadline());
      gil.take(me.ts);
    }
    arrived(me, other);
  }

  // arrived() runs right after `me` got the GIL from the other thread.
  void arrived(Side& me, Side& other) {
    me.samples.push_back(now_ns() - stamp.load(std::memory_order_relaxed));
    if (how == Release::voluntary) other.ready.unpark();
  }
};

void gil_ping_pong(benchmark::State& state, Release how, const char* policy, int busy_us) {
  PingPong pp(how, policy, busy_us);
  PingPong::Side a(pp.core, 1, "A"), b(pp.core, 2, "B");
  a.samples.reserve(static_cast<size_t>(state.max_iterations));
  b.samples.reserve(static_cast<size_t>(state.max_iterations) + 1);

  a.tid.store(current_tid());
  pp.gil.take(a.ts);
  std::thread partner([&] {
    b.tid.store(current_tid());
    pp.gil.take(b.ts);  // blocks until A's first release
    pp.arrived(b, a);
    while (!pp.stop.load(std::memory_order_acquire)) pp.pass(b, a);  // B -> A -> B
    pp.gil.drop(b.ts, true);
  });

  for (auto _ : state) pp.pass(a, b);  // A -> B -> A

  // B is blocked taking the GIL back: one last hand-off lets it see `stop`.
  pp.stop.store(true, std::memory_order_release);
  wait_for_waiter(pp.gil, b.tid);
  pp.stamp.store(now_ns(), std::memory_order_relaxed);
  pp.gil.drop(a.ts, true);
  partner.join();

  std::vector<int64_t> all(a.samples);
  all.insert(all.end(), b.samples.begin(), b.samples.end());
  report_latencies(state, all);
  state.counters["switches"] = static_cast<double>(pp.gil.totals().switches);
}

void BM_GilHandoff(benchmark::State& state, const char* policy, int busy_us) {
  gil_ping_pong(state, Release::voluntary, policy, busy_us);
}
void BM_GilForcedSwitch(benchmark::State& state, const char* policy, int busy_us) {
  gil_ping_pong(state, Release::forced, policy, busy_us);
}
constexpr int kHotRoundTrips = 2000;
constexpr int kColdRoundTrips = 300;  // each costs 2 ms of busy work
#define GILRUN_HANDOFF(fn, name, policy, busy_us, trips) \
  BENCHMARK_CAPTURE(fn, name, policy, busy_us)               \
      ->Iterations(trips)->UseRealTime()->Unit(benchmark::kMicrosecond)
GILRUN_HANDOFF(BM_GilHandoff, interval, "interval", 0, kHotRoundTrips);
GILRUN_HANDOFF(BM_GilHandoff, fifo, "fifo", 0, kHotRoundTrips);
GILRUN_HANDOFF(BM_GilHandoff, priority, "priority", 0, kHotRoundTrips);
GILRUN_HANDOFF(BM_GilHandoff, interval_busy1ms, "interval", 1000, kColdRoundTrips);
GILRUN_HANDOFF(BM_GilForcedSwitch, interval, "interval", 0, kHotRoundTrips);
GILRUN_HANDOFF(BM_GilForcedSwitch, fifo, "fifo", 0, kHotRoundTrips);
GILRUN_HANDOFF(BM_GilForcedSwitch, interval_busy1ms, "interval", 1000, kColdRoundTrips);

// ---------------------------------------------------------------------------
// (c) Parker wake latency: A unparks B and parks; B wakes, unparks A, parks.
// Each unpark is stamped just before and read just after the woken park().
// With busy_us, the waker first computes that long (the sleeper's CPU idles).

void BM_ParkerWake(benchmark::State& state, int busy_us) {
  Parker pa, pb;
  std::atomic<pid_t> a_tid{current_tid()}, b_tid{0};
  std::atomic<int64_t> stamp{0};
  std::atomic<bool> stop{false};
  const gilrun::Deadline forever;  // nullopt
  std::vector<int64_t> a_samples, b_samples;
  a_samples.reserve(static_cast<size_t>(state.max_iterations));
  b_samples.reserve(static_cast<size_t>(state.max_iterations));

  std::thread partner([&] {
    b_tid.store(current_tid());
    while (true) {
      pb.park(forever);
      if (stop.load(std::memory_order_acquire)) break;
      b_samples.push_back(now_ns() - stamp.load(std::memory_order_relaxed));
      wait_for_sleeper(a_tid);
      busy(busy_us);
      stamp.store(now_ns(), std::memory_order_relaxed);
      pa.unpark();
    }
  });

  for (auto _ : state) {
    wait_for_sleeper(b_tid);
    busy(busy_us);
    stamp.store(now_ns(), std::memory_order_relaxed);
    pb.unpark();
    pa.park(forever);
    a_samples.push_back(now_ns() - stamp.load(std::memory_order_relaxed));
  }
  stop.store(true, std::memory_order_release);
  pb.unpark();
  partner.join();

  std::vector<int64_t> all(a_samples);
  all.insert(all.end(), b_samples.begin(), b_samples.end());
  report_latencies(state, all);
}
BENCHMARK_CAPTURE(BM_ParkerWake, hot, 0)
    ->Iterations(kHotRoundTrips)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ParkerWake, busy1ms, 1000)
    ->Iterations(kColdRoundTrips)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The cost of a permit that is already there (no sleep): unpark then park.
void BM_ParkerUncontended(benchmark::State& state) {
  Parker p;
  const gilrun::Deadline forever;
  for (auto _ : state) {
    p.unpark();
    p.park(forever);
  }
}
BENCHMARK(BM_ParkerUncontended);

}  // namespace

BENCHMARK_MAIN();
