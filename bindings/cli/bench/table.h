// bench/table.h — the result tables `gilrun bench` prints on stdout: one per
// experiment, a row per configuration, a column per figure, each cell the
// median with [min..max] over the runs; n/a and failures explained below.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "bench/cells.h"

namespace gilrun::cli::bench {

// A disturbed configuration (Configuration::disturbed: other processes kept
// more than kDisturbedShare of `cores` busy during a run) has its figures
// marked with kLoadedMark and a note under its table.
void print_tables(std::ostream& out, const std::vector<ExperimentResults>& results, int repeat,
                  int cores);
constexpr const char* kLoadedMark = "*";

// number() prints a figure with as many digits as it deserves.
std::string number(double value);

}  // namespace gilrun::cli::bench
