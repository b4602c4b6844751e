// bench/plan.h — a run of `gilrun bench` as data: the configurations to run
// (experiment x policy x switch interval x thread count), and what each
// child run measured.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/options.h"
#include "bench/suite.h"

namespace gilrun::cli::bench {

// Run is one child process's outcome.
struct Run {
  enum class Status { ok, failed, timed_out, interrupted };
  Status status = Status::failed;
  std::string error;  // what went wrong, for the cell (status != ok)
  // The figures, in the order the script reported them; nullopt = n/a.
  std::vector<std::pair<std::string, std::optional<double>>> figures;
  std::map<std::string, std::string> why_na;  // figure -> reason
  // The 1-minute load average around the run (the higher of before and
  // after), recorded for reference: it counts the suite's own threads.
  double load = -1;
  // How many CPUs other processes kept busy during the run, on average
  // (-1: unknown); see Configuration::disturbed().
  double others_cpus = -1;
};

// A run is disturbed when other processes kept more than this share of the
// cores busy on average while it ran: its figures are indicative only.
constexpr double kDisturbedShare = 0.25;

struct Configuration {
  const Experiment* experiment = nullptr;
  std::string policy;
  std::string interval;           // "" if the experiment has no interval axis
  int threads = -1;               // -1 if the experiment has no thread axis
  std::vector<std::string> args;  // script arguments (key=value)
  std::vector<std::string> argv;  // the child's whole command line, once run
  std::vector<Run> runs;          // one per --repeat

  std::string label() const;  // "throughput interval 5ms threads=2"
  // max_others_cpus() is the most CPUs other processes kept busy during any
  // of its runs (-1: unknown); disturbed() says whether that is above
  // kDisturbedShare of `cores`.
  double max_others_cpus() const;
  bool disturbed(int cores) const;
};

// make_plan() expands the options into configurations, in run order; on bad
// input it returns nullopt after writing what is wrong to `error`.
std::optional<std::vector<Configuration>> make_plan(const Flags& options, std::string* error);

}  // namespace gilrun::cli::bench
