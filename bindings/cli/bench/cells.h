// bench/cells.h — from runs to cells: the median, min and max of one figure
// of one configuration over its --repeat runs, or why there is none. The
// table, the JSON and the chart all read results through these.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench/plan.h"

namespace gilrun::cli::bench {

struct Cell {
  enum class Kind { value, na, failed };
  Kind kind = Kind::failed;
  double median = 0, min = 0, max = 0;
  std::vector<double> values;  // every run's figure, in run order
  std::string text;            // why n/a, or what failed
};

// cell() aggregates `figure` over the configuration's runs. Any failed run
// makes the cell failed (a crash is news, not noise); a figure some runs
// could not take is n/a.
Cell cell(const Configuration& config, const std::string& figure);

// An experiment's configurations, in plan order.
struct ExperimentResults {
  const Experiment* experiment;
  std::vector<const Configuration*> configs;
  std::vector<std::string> figures;   // every figure any run reported, first-seen order
  std::vector<std::string> policies;  // in plan order
};
std::vector<ExperimentResults> group_by_experiment(const std::vector<Configuration>& plan);

// variant() names a configuration within its policy: "threads=2", "5ms", or
// "" when the experiment varies only the policy.
std::string variant(const Configuration& config);

}  // namespace gilrun::cli::bench
