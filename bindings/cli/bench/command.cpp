// bench/command.cpp — `gilrun bench`: the flags, then the run's phases —
// plan, run every configuration --repeat times in fresh children, print the
// tables, write --json and --chart. The parts live next door: the suite
// (bench_suite), the plan (bench_plan), children (bench_child), progress,
// cells, and the three outputs (bench_table, bench_json, bench_svg).
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>

#include "bench/cells.h"
#include "bench/child.h"
#include "bench/json.h"
#include "bench/machine.h"
#include "bench/options.h"
#include "bench/plan.h"
#include "bench/progress.h"
#include "bench/svg.h"
#include "bench/table.h"
#include "output_file.h"
#include "text_format.h"

namespace gilrun::cli::bench {
namespace {

constexpr int kInterruptedStatus = 130;

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// scripts_dir() finds scripts/bench: $GILRUN_BENCH_SCRIPTS, else the source
// tree this binary was built from, else ./scripts/bench.
std::string scripts_dir() {
  if (const char* env = std::getenv("GILRUN_BENCH_SCRIPTS"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef GILRUN_BENCH_SCRIPTS_DIR
  if (is_file(std::string(GILRUN_BENCH_SCRIPTS_DIR) + "/benchlib.lua")) {
    return GILRUN_BENCH_SCRIPTS_DIR;
  }
#endif
  return "scripts/bench";
}

// self_path() is this executable, for spawning children of the same build.
std::string self_path() {
  char buffer[4096];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "gilrun";
}

void print_list(std::ostream& out) {
  for (const auto& e : suite()) {
    const size_t pad = std::max<size_t>(1, 12 - std::min<size_t>(12, std::strlen(e.name)));
    out << e.name << std::string(pad, ' ') << e.title << "\n            scripts/bench/" << e.script
        << " " << e.args << "\n";
  }
}

// write_output() fills a file opened before the suite ran.
bool write_output(OutputFile& file, const std::function<void(std::ostream&)>& fill) {
  if (!file.is_open()) return true;
  std::string error;
  if (file.write(fill, &error)) return true;
  std::cerr << "gilrun bench: " << error << "\n";
  return false;
}

// run_all() runs the plan: repeat after repeat, every configuration once per
// repeat (so slow drifts in machine load spread over all of them). False if
// Ctrl-C stopped it.
bool run_all(std::vector<Configuration>& plan, const Flags& options, double timeout) {
  const std::string self = self_path(), dir = scripts_dir();
  Progress progress(static_cast<int>(plan.size()) * options.repeat);
  for (int r = 1; r <= options.repeat; ++r) {
    for (Configuration& config : plan) {
      if (interrupt_requested()) {
        progress.finish();
        return false;
      }
      config.argv = child_argv(self, dir, config);
      progress.start(config.label() + (options.repeat > 1
                                           ? format(" (run %d/%d)", r, options.repeat)
                                           : std::string()));
      const double load_before = load_1min();
      const CpuClock before = cpu_clock();
      Run run = run_child(config.argv, timeout);
      run.others_cpus = others_cpus(before, cpu_clock());
      run.load = std::max(load_before, load_1min());
      config.runs.push_back(std::move(run));
    }
  }
  progress.finish();
  return !interrupt_requested();
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, Flags& o) {
  CLI::App* bench = app.add_subcommand(
      "bench",
      "run the contention benchmark suite: each configuration in a fresh gilrun process, tables "
      "on stdout, progress on stderr");
  bench->prefix_command(false);  // unlike gilrun's own flags, nothing passes through
  bench->allow_extras(false);
  bench->add_flag("--list", o.list, "list the experiments and exit");
  bench->add_option("names", o.names, "experiments to run (default: all; see --list)")
      ->type_name("NAME...");
  bench->add_option("--policies", o.policies, "GIL policies to compare (default: all five)")
      ->delimiter(',')
      ->type_name("P,...");
  bench
      ->add_option("--intervals", o.intervals,
                   "switch intervals, for experiments that vary them (e.g. 50us,5ms,50ms)")
      ->delimiter(',')
      ->type_name("DUR,...");
  bench
      ->add_option("--threads", o.threads,
                   "CPU-bound thread counts, for experiments that vary them (e.g. 1,2,4)")
      ->delimiter(',')
      ->type_name("N,...");
  bench->add_option("--repeat", o.repeat, "runs per configuration: median, min and max (default 3)")
      ->type_name("N");
  bench->add_flag("--quick", o.quick, "short runs: the whole suite in under a minute");
  bench
      ->add_option(
          "--timeout", o.timeout,
          "seconds before a configuration's child is killed (default 120; 30 with --quick)")
      ->check(CLI::Range(0.1, 3600.0))
      ->type_name("S");
  bench->add_option("--json", o.json_file, "write every figure and the machine facts as JSON")
      ->type_name("FILE");
  bench->add_option("--chart", o.chart_file, "write a self-contained SVG bar chart")
      ->type_name("FILE.svg");
  return bench;
}

int run_bench(const Flags& options) {
  if (options.list) {
    print_list(std::cout);
    return 0;
  }
  std::string error;
  auto plan = make_plan(options, &error);
  if (!plan) {
    std::cerr << "gilrun bench: " << error << "\n";
    return 2;
  }
  const std::string dir = scripts_dir();
  if (!is_file(dir + "/benchlib.lua")) {
    std::cerr << "gilrun bench: no experiment scripts in '" << dir
              << "' (run from the source tree, or set GILRUN_BENCH_SCRIPTS)\n";
    return 2;
  }
  // --json and --chart are opened now: a bad path must not cost a whole suite.
  OutputFile json_file, chart_file;
  std::string error_text;
  if ((!options.json_file.empty() && !json_file.open(options.json_file, &error_text)) ||
      (!options.chart_file.empty() && !chart_file.open(options.chart_file, &error_text))) {
    std::cerr << "gilrun bench: " << error_text << "\n";
    return 1;
  }
  const double timeout = options.timeout > 0 ? options.timeout : options.quick ? 30 : 120;
  const MachineFacts machine = machine_facts();
  std::cout << "gilrun bench: " << machine.gilrun_version << "; " << machine.cores << " cores, "
            << machine.cpu_model << ", " << machine.kernel << "; load " << machine.load_average
            << "\n";
  if (options.quick) {
    std::cout << "--quick: short runs (e.g. cpu2's sequential job is ~0.2 s): their ratios and rates "
                 "are indicative only; the full suite's are the ones to quote\n";
  }
  std::cout.flush();

  install_interrupt_handler();
  const bool complete = run_all(*plan, options, timeout);
  if (!complete) {
    std::cerr << "gilrun bench: interrupted\n";
    return kInterruptedStatus;
  }
  const auto results = group_by_experiment(*plan);
  print_tables(std::cout, results, options.repeat, machine.cores);
  std::cout << "\nload average after the run: " << load_average() << "\n";

  bool ok = true;
  ok &= write_output(json_file,
                     [&](std::ostream& out) { write_json(out, machine, options, results); });
  ok &= write_output(chart_file, [&](std::ostream& out) {
    write_svg(out, machine, results, options.repeat);
  });
  for (const Configuration& config : *plan) {
    for (const Run& run : config.runs) ok &= run.status == Run::Status::ok;
  }
  return ok ? 0 : 1;
}

}  // namespace gilrun::cli::bench
