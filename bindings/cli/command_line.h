// command_line.h — gilrun's command line: lua5.4's options (scanned as lua.c
// does, lua_args.h) plus gilrun's own --flags (parsed with CLI11), into an
// Invocation.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bench/options.h"
#include "gilrun/gilrun.h"
#include "lua_args.h"

namespace gilrun::cli {

struct Invocation {
  std::vector<std::string> argv;  // the whole command line
  int script_index = -1;          // argv index of the script; -1: none
  std::vector<LuaStep> steps;     // -e, -l, -W in command-line order
  bool interactive = false;       // -i
  bool version = false;           // -v, --version (and -i)
  bool exec = false;              // some -e was given
  bool ignore_env = false;        // -E
  std::string stats;              // "", "table" or "json"
  std::optional<std::chrono::nanoseconds> switch_interval;
  // The defaults are Options' (gilrun.h), written once.
  std::string policy = gilrun::Options().policy;              // --gil / GILRUN_GIL
  bool force_switching = gilrun::Options().force_switching;  // --force-switching=on|off
  int check_interval = gilrun::Options().check_interval;     // --check-interval (ticks)
  std::string trace_file;           // --trace=FILE.json
  std::string timeline_file;        // --timeline=FILE.html
  std::string gil_profile_file;     // --gil-profile=FILE (collapsed stacks)
  std::optional<std::chrono::nanoseconds> green_block_warn;  // --green-block-warn=DUR
  std::size_t green_stack_size = 0;  // --green-stack-size=SIZE (0: the default)
  bool bench = false;               // `gilrun bench ...`: run the benchmark suite
  bench::Flags bench_flags;

  // progname() is what lua.c puts before its messages: argv[0].
  const char* progname() const {
    return !argv.empty() && !argv[0].empty() ? argv[0].c_str() : "gilrun";
  }
};

// The GIL policies Options::policy accepts, as --gil, GILRUN_GIL and `gilrun
// bench --policies` take them (and bench compares them all by default).
extern const std::vector<std::string> kPolicies;

// The longest duration a flag takes (--switch-interval, --green-block-warn).
constexpr std::chrono::nanoseconds kMaxDuration = std::chrono::hours(1);

// parse_duration() reads "5ms", "50us", "0.5s", "200000ns": a number and a
// unit, positive, 1 ns .. 1 hour. Returns nullopt if not, with why (e.g.
// "has no unit (use ns, us, ms or s, e.g. 5ms)") in *why if given.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text,
                                                       std::string* why = nullptr);

// parse_command_line() returns the invocation, or an exit status (0 for
// --help, 2 for bad usage) after printing what it has to say.
struct ParseResult {
  std::optional<Invocation> invocation;
  int exit_status = 0;
};
ParseResult parse_command_line(int argc, char** argv);

// to_options() is the interpreter's Options for a run of `inv`: the GIL
// flags, -E, recording when a trace or timeline is asked for, Ctrl-C and
// SIGTERM handled, gilrun's modules preloaded. (The exit hook is the
// caller's: it knows where the outputs go.)
gilrun::Options to_options(const Invocation& inv);

}  // namespace gilrun::cli
