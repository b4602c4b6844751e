// stats_report.h — the `--stats` summary printed at exit.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>

#include "gilrun/gilrun.h"

namespace gilrun::cli {

// print_stats_table() prints a table for a terminal; a thread's name is shown
// with its control characters and bytes that are not UTF-8 escaped (\n,
// \x1b, ...), cut to its column.
void print_stats_table(std::ostream& out, const Stats& stats);
// table_cell() is `text` escaped as in the table, cut or padded to `width`
// characters.
std::string table_cell(const std::string& text, size_t width);
void print_stats_json(std::ostream& out, const Stats& stats);

}  // namespace gilrun::cli
