// green_micro.cpp — Google Benchmark cases for the fibers under green
// threads: create+destroy on a pooled stack, and one resume+suspend round
// trip (two switches). The Lua-level costs (green ping-pong, green queue
// throughput, sleepers) are in scripts/bench/green_*.lua and scripts/sleepers.lua.
#include <benchmark/benchmark.h>

#include <memory>

#include "green/fiber.h"

namespace {

using gilrun::Fiber;

void nothing(void*) {}

// A fiber that runs and ends at once: stack from the pool, one switch in,
// one out, stack back to the pool.
void BM_FiberCreateRunDestroy(benchmark::State& state) {
  for (auto _ : state) {
    Fiber f(nothing, nullptr);
    f.resume();
    benchmark::DoNotOptimize(f.finished());
  }
}
BENCHMARK(BM_FiberCreateRunDestroy);

// Creating and destroying a fiber that never runs takes no stack at all.
void BM_FiberCreateUnstarted(benchmark::State& state) {
  for (auto _ : state) {
    Fiber f(nothing, nullptr);
    benchmark::DoNotOptimize(&f);
  }
}
BENCHMARK(BM_FiberCreateUnstarted);

struct Looper {
  Fiber* fiber = nullptr;
  bool stop = false;
};

void loop_suspending(void* arg) {
  auto& l = *static_cast<Looper*>(arg);
  while (!l.stop) l.fiber->suspend();
}

// One iteration is resume + suspend: two switches. Reported per switch.
void BM_FiberSwitch(benchmark::State& state) {
  Looper l;
  Fiber f(loop_suspending, &l);
  l.fiber = &f;
  for (auto _ : state) f.resume();
  l.stop = true;
  f.resume();
  state.SetItemsProcessed(state.iterations() * 2);
  state.counters["ns_per_switch"] = benchmark::Counter(
      static_cast<double>(state.iterations() * 2),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FiberSwitch);

}  // namespace

BENCHMARK_MAIN();
