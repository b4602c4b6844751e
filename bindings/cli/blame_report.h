// blame_report.h — the GIL attribution at exit: the two --stats tables
// ("held while others waited", "waited for the GIL at") and the
// --gil-profile file of collapsed stacks.
#pragma once

#include <cstddef>
#include <ostream>

#include "gilrun/gilrun.h"

namespace gilrun::cli {

// print_blame_tables() prints the top `rows` lines of each table; nothing
// for a table with no entries.
void print_blame_tables(std::ostream& out, const Stats& stats, size_t rows = 10);
// write_gil_profile() writes one "thread [kind];frame;frame  microseconds"
// line per stack (flamegraph.pl, speedscope and inferno read it).
void write_gil_profile(std::ostream& out, const Stats& stats);

}  // namespace gilrun::cli
