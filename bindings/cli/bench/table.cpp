#include "bench/table.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "text_format.h"

namespace gilrun::cli::bench {
namespace {

std::string cell_text(const Cell& c, int repeat) {
  switch (c.kind) {
    case Cell::Kind::na:
      return "n/a";
    case Cell::Kind::failed:
      return "FAILED";
    case Cell::Kind::value:
      break;
  }
  if (repeat < 2) return number(c.median);
  return number(c.median) + " [" + number(c.min) + ".." + number(c.max) + "]";
}

void print_row(std::ostream& out, const std::vector<std::string>& row,
               const std::vector<size_t>& widths) {
  std::string line;
  for (size_t i = 0; i < row.size(); ++i) {
    std::string text = row[i];
    text.resize(std::max(text.size(), widths[i]), ' ');  // left-aligned
    line += (i ? "  " : "") + text;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out << line << "\n";
}

}  // namespace

std::string number(double v) {
  const double a = std::fabs(v);
  if (a >= 1e6) return format("%.3gM", v / 1e6);
  if (a >= 100) return format("%.0f", v);
  if (a >= 10) return format("%.1f", v);
  if (a >= 1) return format("%.2f", v);
  return format("%.3g", v);
}

void print_tables(std::ostream& out, const std::vector<ExperimentResults>& results, int repeat,
                  int cores) {
  for (const auto& group : results) {
    const Experiment& e = *group.experiment;
    out << "\n## " << e.name << " — " << e.title << "\n";
    out << "scripts/bench/" << e.script << "; "
        << (repeat > 1 ? format("median [min..max] of %d runs", repeat) : std::string("1 run"))
        << "\n\n";
    std::vector<std::string> header = {"policy"};
    const bool has_variant = !variant(*group.configs.front()).empty();
    if (has_variant) header.push_back("config");
    header.insert(header.end(), group.figures.begin(), group.figures.end());

    std::vector<std::vector<std::string>> rows = {header};
    std::map<std::string, std::vector<std::string>> notes;  // note -> who
    for (const Configuration* config : group.configs) {
      std::vector<std::string> row = {config->policy};
      if (has_variant) row.push_back(variant(*config));
      bool failed = false;
      const bool loaded = config->disturbed(cores);
      if (loaded) {
        notes[format("%s taken while other processes kept more than %.2g of the %d cores busy: "
                     "indicative only",
                     kLoadedMark, kDisturbedShare * cores, cores)]
            .push_back(config->label() + format(" (%.2f CPUs)", config->max_others_cpus()));
      }
      for (const auto& figure : group.figures) {
        const Cell c = cell(*config, figure);
        row.push_back(cell_text(c, repeat) + (loaded && c.kind == Cell::Kind::value ? kLoadedMark : ""));
        if (c.kind == Cell::Kind::na) notes["n/a: " + c.text].push_back(figure);
        if (c.kind == Cell::Kind::failed && !failed) {
          notes["FAILED: " + c.text].push_back(config->label());
          failed = true;
        }
      }
      if (group.figures.empty()) {  // nothing ran well enough to name a figure
        const Cell c = cell(*config, "");
        row.push_back(cell_text(c, repeat));
        notes["FAILED: " + c.text].push_back(config->label());
      }
      rows.push_back(std::move(row));
    }
    std::vector<size_t> widths(header.size() + 1, 0);
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    for (const auto& row : rows) print_row(out, row, widths);
    for (const auto& [note, who] : notes) {
      std::vector<std::string> unique;
      for (const auto& w : who) {
        if (std::find(unique.begin(), unique.end(), w) == unique.end()) unique.push_back(w);
      }
      std::string list;
      for (const auto& w : unique) list += (list.empty() ? "" : ", ") + w;
      out << "  " << note << " (" << list << ")\n";
    }
  }
}

}  // namespace gilrun::cli::bench
