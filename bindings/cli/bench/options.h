// bench/options.h — the flags of `gilrun bench`, and the CLI11 subcommand
// that reads them (command_line.cpp adds it to gilrun's parser).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace gilrun::cli::bench {

struct Flags {
  bool list = false;                   // --list
  std::vector<std::string> names;      // NAME...: experiments to run (all if empty)
  std::vector<std::string> policies;   // --policies (all five if empty)
  std::vector<std::string> intervals;  // --intervals (each experiment's default if empty)
  std::vector<int> threads;            // --threads (each experiment's default if empty)
  int repeat = 3;                      // --repeat
  bool quick = false;                  // --quick
  double timeout = 0;                  // --timeout seconds per child (0: 60, or 30 quick)
  std::string json_file;               // --json
  std::string chart_file;              // --chart
};

// add_bench_command() adds the `bench` subcommand to `app`, storing into
// `flags`; returns it (its parsed() says whether it was given).
CLI::App* add_bench_command(CLI::App& app, Flags& flags);

// run_bench() runs the suite; returns the exit status (0, 1 when a
// configuration failed or an output could not be written, 2 bad usage, 130
// after Ctrl-C).
int run_bench(const Flags& options);

}  // namespace gilrun::cli::bench
