// bench/suite.h — the experiments `gilrun bench` knows, as data.
//
// An experiment is a Lua script in scripts/bench/ plus the parameters to run
// it with: key=value arguments for a full run and for --quick, and the axes
// it varies besides the GIL policy (thread counts, switch intervals). Adding
// an experiment means adding a script and a row to kSuite — no C++ per
// experiment. The driver reads the script's "@bench" line (see
// scripts/bench/benchlib.lua) whatever figures it reports.
#pragma once

#include <string>
#include <vector>

namespace gilrun::cli::bench {

struct Experiment {
  const char* name;        // what `gilrun bench NAME` selects
  const char* script;      // file in scripts/bench/
  const char* title;       // one line for --list and the table heading
  const char* args;        // key=value arguments for a full run
  const char* quick_args;  // ... and for --quick
  // Axes, as comma-separated defaults ("" = the experiment doesn't vary it).
  // --threads and --intervals replace the defaults of experiments that have
  // the axis. A thread count is passed as the argument threads=N, an
  // interval as --switch-interval.
  const char* threads;
  const char* quick_threads;
  const char* intervals;
  const char* quick_intervals;
  std::vector<const char*> chart_figures;  // the figures drawn as bars
};

// suite() is every experiment, in the order they run and print.
const std::vector<Experiment>& suite();

// find_experiment() is the experiment called `name`, or nullptr.
const Experiment* find_experiment(const std::string& name);

}  // namespace gilrun::cli::bench
