#include "bench/suite.h"

namespace gilrun::cli::bench {

const std::vector<Experiment>& suite() {
  // clang-format off
  static const std::vector<Experiment> kSuite = {
      {"throughput", "throughput.lua",
       "ccbench throughput: N CPU-bound threads vs 1 (% of one thread)",
       /*args=*/"seconds=1", /*quick_args=*/"seconds=0.1",
       /*threads=*/"1,2,4", "1,2", /*intervals=*/"5ms", "5ms",
       /*chart_figures=*/{"pct_of_single"}},
      {"latency", "latency.lua",
       "ccbench latency: a ping's wait for an answer while N CPU-bound threads run",
       /*args=*/"seconds=1 period=0.01", /*quick_args=*/"seconds=0.2 period=0.01",
       /*threads=*/"1,2,4", "2", /*intervals=*/"5ms", "5ms",
       /*chart_figures=*/{"p50_ms"}},
      {"convoy", "convoy.lua",
       "convoy effect: I/O round trips/s beside 0, 1, 2 CPU-bound threads",
       /*args=*/"seconds=1", /*quick_args=*/"seconds=0.1",
       /*threads=*/"", "", /*intervals=*/"5ms", "5ms",
       /*chart_figures=*/{"cpu1_pct", "cpu2_pct"}},
      {"cpu2", "cpu2.lua",
       "fib twice: sequential vs 2 threads vs 2 processes (ratio to sequential)",
       // fib(29) twice took ~0.1 s: its ratios were noise (1.35x, 0.71x, 0.77x)
       /*args=*/"n=32", /*quick_args=*/"n=30",
       /*threads=*/"", "", /*intervals=*/"", "",
       /*chart_figures=*/{"threads_ratio", "procs_ratio"}},
      {"sleepers", "sleepers.lua",
       "N threads vs N green threads sleeping 200 ms (wall seconds)",
       /*args=*/"threads=100,1000,10000 green=100,1000,10000,100000 sleep=0.2",
       /*quick_args=*/"threads=100 green=100 sleep=0.2",
       /*threads=*/"", "", /*intervals=*/"", "",
       /*chart_figures=*/{"threads_100_s", "green_100_s"}},
      {"memory", "memory.lua",
       "resident memory per OS thread, green thread, process (KiB)",
       /*args=*/"threads=1000 green=100000 procs=4 hold=1",
       /*quick_args=*/"threads=100 green=1000 procs=2 hold=0.3",
       /*threads=*/"", "", /*intervals=*/"", "",
       /*chart_figures=*/{"thread_kib", "green_kib", "process_kib"}},
      {"queue", "queue.lua",
       "items/s through a queue: threads, green threads, processes",
       /*args=*/"items=200000", /*quick_args=*/"items=20000",
       /*threads=*/"", "", /*intervals=*/"", "",
       /*chart_figures=*/{"threads_per_s", "green_per_s", "process_per_s"}},
      {"switch", "switch.lua",
       "forced switches/s and hand-off cost vs switch interval, 2 CPU threads",
       /*args=*/"seconds=1", /*quick_args=*/"seconds=0.2",
       /*threads=*/"", "", /*intervals=*/"50us,500us,5ms,50ms", "500us,5ms",
       /*chart_figures=*/{"switches_per_s"}},
      {"executors", "executors.lua",
       "futures executors: fib x 4 (cpu) and N sleeps (io) vs sequential (wall s, ratio)",
       /*args=*/"n=30 sleeps=100 sleep=0.05", /*quick_args=*/"n=27 sleeps=20 sleep=0.01",
       /*threads=*/"", "", /*intervals=*/"", "",
       /*chart_figures=*/{"cpu_threads_ratio", "cpu_procs_ratio", "io_threads_ratio", "io_green_ratio"}},
  };
  // clang-format on
  return kSuite;
}

const Experiment* find_experiment(const std::string& name) {
  for (const auto& e : suite()) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

}  // namespace gilrun::cli::bench
