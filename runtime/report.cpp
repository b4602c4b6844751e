// report.cpp — see report.h.
#include "report.h"

#include <cstdio>

#include "core.h"

namespace gilrun {

void print_report(std::string_view text) {
  std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
  std::fflush(stderr);
}

void report(const Core& core, std::string_view text) {
  if (core.options.report) {
    core.options.report(text);
  } else {
    print_report(text);
  }
}

}  // namespace gilrun
