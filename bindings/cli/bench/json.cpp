#include "bench/json.h"

#include <cmath>

#include "command_line.h"
#include "text_format.h"

namespace gilrun::cli::bench {
namespace {

std::string json_number(double v) { return std::isfinite(v) ? format("%.6g", v) : "null"; }

template <class T, class Show>
std::string json_list(const std::vector<T>& items, Show show) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + show(items[i]);
  return s + "]";
}

std::string quoted(const std::string& s) { return json_string(s); }

std::string json_cell(const Cell& c) {
  switch (c.kind) {
    case Cell::Kind::na:
      return "{\"na\":" + json_string(c.text) + "}";
    case Cell::Kind::failed:
      return "{\"failed\":" + json_string(c.text) + "}";
    case Cell::Kind::value:
      break;
  }
  return "{\"median\":" + json_number(c.median) + ",\"min\":" + json_number(c.min) +
         ",\"max\":" + json_number(c.max) + ",\"runs\":" + json_list(c.values, json_number) + "}";
}

std::string json_config(const Configuration& config, const std::vector<std::string>& figures,
                        int cores) {
  std::string error;
  for (const Run& run : config.runs) {
    if (run.status != Run::Status::ok && error.empty()) error = run.error;
  }
  std::string s = "{\"policy\":" + json_string(config.policy);
  s += ",\"interval\":" + (config.interval.empty() ? "null" : json_string(config.interval));
  s += ",\"threads\":" + (config.threads < 0 ? "null" : std::to_string(config.threads));
  s += ",\"variant\":" + json_string(variant(config));
  s += ",\"status\":" + json_string(error.empty() && !config.runs.empty() ? "ok" : "failed");
  s += ",\"error\":" + (error.empty() ? "null" : json_string(error));
  s += ",\"argv\":" + json_list(config.argv, quoted);
  // The 1-minute load around each run (it counts the suite's own threads), and
  // the CPUs other processes kept busy; a disturbed run is indicative only.
  s += ",\"load\":" + json_list(config.runs, [](const Run& run) { return json_number(run.load); });
  s += ",\"others_cpus\":" +
       json_list(config.runs, [](const Run& run) { return json_number(run.others_cpus); });
  s += std::string(",\"disturbed\":") + (config.disturbed(cores) ? "true" : "false");
  s += ",\"cells\":{";
  for (size_t i = 0; i < figures.size(); ++i) {
    s += (i ? "," : "") + json_string(figures[i]) + ":" + json_cell(cell(config, figures[i]));
  }
  return s + "}}";
}

}  // namespace

void write_json(std::ostream& out, const MachineFacts& m, const Flags& options,
                const std::vector<ExperimentResults>& results) {
  out << "{\"tool\":\"gilrun bench\",\n\"machine\":{\"cores\":" << m.cores
      << ",\"cpu_model\":" << json_string(m.cpu_model) << ",\"kernel\":" << json_string(m.kernel)
      << ",\"gilrun_version\":" << json_string(m.gilrun_version)
      << ",\"lua_version\":" << json_string(m.lua_version) << ",\"date\":" << json_string(m.date)
      << ",\"load_average_before\":" << json_string(m.load_average)
      << ",\"load_average_after\":" << json_string(load_average()) << "},\n";
  out << "\"settings\":{\"quick\":" << (options.quick ? "true" : "false")
      << ",\"indicative_only\":" << (options.quick ? "true" : "false")
      << ",\"repeat\":" << options.repeat << ",\"policies\":"
      << json_list(options.policies.empty() ? kPolicies : options.policies, quoted)
      << ",\"intervals\":" << json_list(options.intervals, quoted)
      << ",\"threads\":" << json_list(options.threads, [](int n) { return std::to_string(n); })
      << "},\n\"experiments\":[";
  for (size_t g = 0; g < results.size(); ++g) {
    const auto& group = results[g];
    const Experiment& e = *group.experiment;
    std::vector<std::string> chart(e.chart_figures.begin(), e.chart_figures.end());
    out << (g ? ",\n" : "\n") << "{\"name\":" << json_string(e.name)
        << ",\"title\":" << json_string(e.title)
        << ",\"script\":" << json_string(std::string("scripts/bench/") + e.script)
        << ",\"figures\":" << json_list(group.figures, quoted)
        << ",\"chart_figures\":" << json_list(chart, quoted)
        << ",\"policies\":" << json_list(group.policies, quoted) << ",\"configurations\":[";
    for (size_t i = 0; i < group.configs.size(); ++i) {
      out << (i ? ",\n  " : "\n  ") << json_config(*group.configs[i], group.figures, m.cores);
    }
    out << "]}";
  }
  out << "]}\n";
}

}  // namespace gilrun::cli::bench
