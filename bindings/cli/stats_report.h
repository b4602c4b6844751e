// stats_report.h — the `--stats` summary printed at exit.
#pragma once

#include <ostream>

#include "gilrun/gilrun.h"

namespace gilrun::cli {

void print_stats_table(std::ostream& out, const Stats& stats);
void print_stats_json(std::ostream& out, const Stats& stats);

}  // namespace gilrun::cli
