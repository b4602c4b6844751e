// command_line.h — parsing gilrun's flags (with CLI11) into a Invocation.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bench_options.h"

namespace gilrun::cli {

struct Invocation {
  std::vector<std::string> argv;  // the whole command line
  int script_index = -1;          // argv index of the script; -1: none
  std::vector<std::string> exec;      // -e chunks
  std::vector<std::string> requires;  // -l modules
  bool interactive = false;           // -i
  bool version = false;               // -v
  std::string stats;                  // "", "table" or "json"
  std::optional<std::chrono::nanoseconds> switch_interval;
  std::string policy = "interval";  // --gil / GILRUN_GIL
  bool force_switching = true;      // --force-switching=on|off
  int check_interval = 100;         // --check-interval (ticks)
  std::string trace_file;           // --trace=FILE.json
  std::string timeline_file;        // --timeline=FILE.html
  std::optional<std::chrono::nanoseconds> green_block_warn;  // --green-block-warn=DUR
  bool bench = false;               // `gilrun bench ...`: run the benchmark suite
  bench::Options bench_options;
};

// parse_duration() reads "5ms", "50us", "0.5s", "200000ns" (a bare number is
// seconds). Returns nullopt if malformed or not positive.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text);

// parse_command_line() returns the invocation, or an exit status (0 for
// --help, 2 for bad usage) after printing what it has to say.
struct ParseResult {
  std::optional<Invocation> invocation;
  int exit_status = 0;
};
ParseResult parse_command_line(int argc, char** argv);

}  // namespace gilrun::cli
