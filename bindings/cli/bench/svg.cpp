#include "bench/svg.h"

#include <algorithm>
#include <cmath>

#include "bench/table.h"
#include "text_format.h"

namespace gilrun::cli::bench {
namespace {

constexpr double kWidth = 760, kPanelHeight = 270;
constexpr double kLeft = 70, kRight = 20, kTop = 48, kPlotHeight = 150;
const char* const kColors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                               "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};

std::string xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A bar series: one chart figure in one variant (e.g. "threads=2 pct_of_single").
struct Series {
  std::string figure, variant, label;
};

// chart_series() is what each policy group shows, in order.
std::vector<Series> chart_series(const ExperimentResults& group) {
  std::vector<std::string> figures;
  for (const char* f : group.experiment->chart_figures) {
    if (std::find(group.figures.begin(), group.figures.end(), f) != group.figures.end()) {
      figures.push_back(f);
    }
  }
  if (figures.empty() && !group.figures.empty()) figures.push_back(group.figures.front());
  std::vector<std::string> variants;
  for (const Configuration* c : group.configs) {
    if (std::find(variants.begin(), variants.end(), variant(*c)) == variants.end()) {
      variants.push_back(variant(*c));
    }
  }
  std::vector<Series> out;
  for (const auto& f : figures) {
    for (const auto& v : variants) out.push_back({f, v, v.empty() ? f : f + " " + v});
  }
  return out;
}

const Configuration* find_config(const ExperimentResults& group, const std::string& policy,
                                 const std::string& v) {
  for (const Configuration* c : group.configs) {
    if (c->policy == policy && variant(*c) == v) return c;
  }
  return nullptr;
}

void write_panel(std::ostream& out, const ExperimentResults& group, double y0, int repeat) {
  const Experiment& e = *group.experiment;
  const auto series = chart_series(group);
  double top = 0;
  for (const auto& policy : group.policies) {
    for (const auto& s : series) {
      if (const Configuration* c = find_config(group, policy, s.variant)) {
        const Cell cl = cell(*c, s.figure);
        if (cl.kind == Cell::Kind::value) top = std::max(top, cl.max);
      }
    }
  }
  if (top <= 0) top = 1;
  const double plot_width = kWidth - kLeft - kRight;
  const double base = y0 + kTop + kPlotHeight;
  out << format("<g class=\"experiment\" data-experiment=\"%s\">\n", xml(e.name).c_str());
  out << format("<text x=\"10\" y=\"%.1f\" class=\"title\">%s — %s</text>\n", y0 + 20,
                xml(e.name).c_str(), xml(e.title).c_str());
  out << format("<text x=\"10\" y=\"%.1f\" class=\"note\">%s</text>\n", y0 + 36,
                repeat > 1 ? format("bars: median of %d runs; whiskers: min..max", repeat).c_str()
                           : "bars: 1 run");
  out << format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", kLeft,
                base, kWidth - kRight, base);
  out << format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", kLeft,
                y0 + kTop, kLeft, base);
  out << format("<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%s</text>\n", kLeft - 6, y0 + kTop + 4,
                number(top).c_str());
  out << format("<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">0</text>\n", kLeft - 6, base + 4);

  const double group_width = plot_width / std::max<size_t>(1, group.policies.size());
  const double bar_width = std::min(40.0, (group_width - 16) / std::max<size_t>(1, series.size()));
  for (size_t p = 0; p < group.policies.size(); ++p) {
    const std::string& policy = group.policies[p];
    const double gx = kLeft + p * group_width + (group_width - bar_width * series.size()) / 2;
    out << format("<g class=\"policy\" data-policy=\"%s\">\n", xml(policy).c_str());
    if (series.empty()) {  // every run failed before reporting a figure
      const Configuration* c = find_config(group, policy, variant(*group.configs.front()));
      out << format("<text x=\"%.1f\" y=\"%.1f\" class=\"mark\">failed<title>%s</title></text>\n",
                    kLeft + (p + 0.5) * group_width, base - 4,
                    xml(c ? cell(*c, "").text : "not run").c_str());
    }
    for (size_t i = 0; i < series.size(); ++i) {
      const double x = gx + i * bar_width;
      const Configuration* c = find_config(group, policy, series[i].variant);
      const Cell cl = c ? cell(*c, series[i].figure) : Cell{};
      const std::string what = policy + " " + series[i].label;
      if (cl.kind != Cell::Kind::value) {
        const char* mark = cl.kind == Cell::Kind::na ? "n/a" : "failed";
        out << format("<text x=\"%.1f\" y=\"%.1f\" class=\"mark\">%s<title>%s: %s</title></text>\n",
                      x + bar_width / 2, base - 4, mark, xml(what).c_str(), xml(cl.text).c_str());
        continue;
      }
      const auto y = [&](double v) { return base - kPlotHeight * std::max(0.0, v) / top; };
      out << format(
          "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"%s\"><title>%s: %s [%s..%s]</title></rect>\n",
          x + 1, y(cl.median), bar_width - 2, base - y(cl.median), kColors[i % 8],
          xml(what).c_str(), number(cl.median).c_str(), number(cl.min).c_str(),
          number(cl.max).c_str());
      if (repeat > 1) {
        out << format("<line class=\"whisker\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                      x + bar_width / 2, y(cl.min), x + bar_width / 2, y(cl.max));
      }
    }
    out << format("<text x=\"%.1f\" y=\"%.1f\" class=\"label\">%s</text>\n</g>\n",
                  kLeft + (p + 0.5) * group_width, base + 16, xml(policy).c_str());
  }
  double lx = kLeft;
  for (size_t i = 0; i < series.size(); ++i) {
    out << format(
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%s</text>\n",
        lx, base + 28, kColors[i % 8], lx + 14, base + 37, xml(series[i].label).c_str());
    lx += 24 + 6.5 * series[i].label.size();
  }
  out << "</g>\n";
}

}  // namespace

void write_svg(std::ostream& out, const MachineFacts& m,
               const std::vector<ExperimentResults>& results, int repeat) {
  const double height = 40 + kPanelHeight * results.size();
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\">\n",
      kWidth, height, kWidth, height);
  out << "<style>text{font-family:sans-serif;font-size:11px;fill:#222}"
         ".title{font-size:13px;font-weight:bold}.note{fill:#666}"
         ".tick{text-anchor:end}.label{text-anchor:middle}.mark{text-anchor:middle;fill:#999}"
         ".axis{stroke:#444}.whisker{stroke:#222;stroke-width:1.5}</style>\n";
  out << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out << format(
      "<text x=\"10\" y=\"22\" class=\"title\">gilrun bench — %s, %d cores, %s, %s</text>\n",
      xml(m.cpu_model).c_str(), m.cores, xml(m.kernel).c_str(), xml(m.date).c_str());
  for (size_t i = 0; i < results.size(); ++i) {
    write_panel(out, results[i], 40 + kPanelHeight * i, repeat);
  }
  out << "</svg>\n";
}

}  // namespace gilrun::cli::bench
