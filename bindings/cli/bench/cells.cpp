#include "bench/cells.h"

#include <algorithm>

namespace gilrun::cli::bench {

Cell cell(const Configuration& config, const std::string& figure) {
  Cell c;
  if (config.runs.empty()) {
    c.text = "not run";
    return c;
  }
  for (const Run& run : config.runs) {
    if (run.status != Run::Status::ok) {
      c.text = run.error;
      return c;
    }
    const auto found = std::find_if(run.figures.begin(), run.figures.end(),
                                    [&](const auto& f) { return f.first == figure; });
    if (found == run.figures.end() || !found->second) {
      c.kind = Cell::Kind::na;
      const auto why = run.why_na.find(figure);
      c.text = why != run.why_na.end()      ? why->second
               : found == run.figures.end() ? "not reported"
                                            : "n/a";
      return c;
    }
    c.values.push_back(*found->second);
  }
  std::vector<double> sorted = c.values;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  c.kind = Cell::Kind::value;
  c.median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  c.min = sorted.front();
  c.max = sorted.back();
  return c;
}

std::vector<ExperimentResults> group_by_experiment(const std::vector<Configuration>& plan) {
  std::vector<ExperimentResults> out;
  for (const Configuration& config : plan) {
    if (out.empty() || out.back().experiment != config.experiment) {
      out.push_back({config.experiment, {}, {}, {}});
    }
    ExperimentResults& group = out.back();
    group.configs.push_back(&config);
    if (std::find(group.policies.begin(), group.policies.end(), config.policy) ==
        group.policies.end()) {
      group.policies.push_back(config.policy);
    }
    for (const Run& run : config.runs) {
      for (const auto& [name, value] : run.figures) {
        if (std::find(group.figures.begin(), group.figures.end(), name) == group.figures.end()) {
          group.figures.push_back(name);
        }
      }
    }
  }
  return out;
}

std::string variant(const Configuration& config) {
  std::string s;
  if (!config.interval.empty()) s = config.interval;
  if (config.threads >= 0)
    s += (s.empty() ? "" : " ") + std::string("threads=") + std::to_string(config.threads);
  return s;
}

}  // namespace gilrun::cli::bench
