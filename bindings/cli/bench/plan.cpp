#include "bench/plan.h"

#include <algorithm>
#include <sstream>

#include "command_line.h"

namespace gilrun::cli::bench {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, separator);) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<int> split_ints(const std::string& text) {
  std::vector<int> out;
  for (const auto& item : split(text, ',')) out.push_back(std::stoi(item));
  return out;
}

// check_names() says which entry of `given` is not in `known`, if any.
bool check_names(const std::vector<std::string>& given, const std::vector<std::string>& known,
                 const char* what, std::string* error) {
  for (const auto& name : given) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string choices;
      for (const auto& k : known) choices += (choices.empty() ? "" : ", ") + k;
      *error = std::string("unknown ") + what + " '" + name + "' (choose from " + choices + ")";
      return false;
    }
  }
  return true;
}

}  // namespace

std::string Configuration::label() const {
  std::string s = std::string(experiment->name) + " " + policy;
  if (!interval.empty()) s += " " + interval;
  if (threads >= 0) s += " threads=" + std::to_string(threads);
  return s;
}

double Configuration::max_others_cpus() const {
  double others = -1;
  for (const Run& run : runs) others = std::max(others, run.others_cpus);
  return others;
}

bool Configuration::disturbed(int cores) const {
  return cores > 0 && max_others_cpus() > kDisturbedShare * cores;
}

std::optional<std::vector<Configuration>> make_plan(const Flags& options, std::string* error) {
  std::vector<std::string> known;
  for (const auto& e : suite()) known.push_back(e.name);
  if (!check_names(options.names, known, "experiment", error)) return std::nullopt;
  if (!check_names(options.policies, kPolicies, "policy", error)) return std::nullopt;
  for (const auto& interval : options.intervals) {
    if (!parse_duration(interval)) {
      *error = "--intervals: '" + interval + "' is not a duration (use us, ms or s, e.g. 5ms)";
      return std::nullopt;
    }
  }
  for (int n : options.threads) {
    if (n < 0 || n > 10000) {
      *error = "--threads: " + std::to_string(n) + " is out of range (0 .. 10000)";
      return std::nullopt;
    }
  }
  if (options.repeat < 1 || options.repeat > 100) {
    *error = "--repeat must be 1 .. 100";
    return std::nullopt;
  }

  const auto& policies = options.policies.empty() ? kPolicies : options.policies;
  std::vector<Configuration> plan;
  for (const auto& e : suite()) {
    if (!options.names.empty() &&
        std::find(options.names.begin(), options.names.end(), e.name) == options.names.end()) {
      continue;
    }
    const std::string default_threads = options.quick ? e.quick_threads : e.threads;
    const std::string default_intervals = options.quick ? e.quick_intervals : e.intervals;
    std::vector<int> threads = {-1};
    if (!default_threads.empty()) {
      threads = options.threads.empty() ? split_ints(default_threads) : options.threads;
    }
    std::vector<std::string> intervals = {""};
    if (!default_intervals.empty()) {
      intervals = options.intervals.empty() ? split(default_intervals, ',') : options.intervals;
    }
    const auto args = split(options.quick ? e.quick_args : e.args, ' ');
    for (const auto& policy : policies) {
      for (const auto& interval : intervals) {
        for (int n : threads) {
          Configuration c;
          c.experiment = &e;
          c.policy = policy;
          c.interval = interval;
          c.threads = n;
          c.args = args;
          if (!default_threads.empty()) c.args.push_back("threads=" + std::to_string(n));
          plan.push_back(std::move(c));
        }
      }
    }
  }
  return plan;
}

}  // namespace gilrun::cli::bench
