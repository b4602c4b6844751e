// bench/svg.h — `gilrun bench --chart=FILE.svg`: one self-contained SVG (no
// scripts, fonts or links), a panel per experiment, in it a bar group per
// policy (<g class="policy" data-policy="...">) with a bar per chart figure
// and configuration: the median, a whisker from min to max, and a <title>
// to read on hover. n/a and failed configurations are labelled, not drawn.
#pragma once

#include <ostream>
#include <vector>

#include "bench/cells.h"
#include "bench/machine.h"

namespace gilrun::cli::bench {

void write_svg(std::ostream& out, const MachineFacts& machine,
               const std::vector<ExperimentResults>& results, int repeat);

}  // namespace gilrun::cli::bench
