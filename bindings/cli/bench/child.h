// bench/child.h — one configuration, one fresh gilrun process.
//
// Each measurement runs in a child started with posix_spawn of this very
// binary (/proc/self/exe) — never a fork of a process that may have threads —
// with the policy flags and the experiment's script, so no policy's state can
// leak into another's numbers. The child's stdout is searched for the
// "@bench" lines; a child that crashes, fails or outlives its time limit is
// killed if need be, always reaped, and reported as a failed Run.
#pragma once

#include <string>
#include <vector>

#include "bench/plan.h"

namespace gilrun::cli::bench {

// child_argv() is the command line a configuration runs (argv[0] included).
std::vector<std::string> child_argv(const std::string& self, const std::string& scripts_dir,
                                    const Configuration& config);

// run_child() runs `argv` to its end (or `timeout_s`, or Ctrl-C: see
// interrupt_requested()) and returns what it measured.
Run run_child(const std::vector<std::string>& argv, double timeout_s);

// parse_report() reads the "@bench" lines of a child's stdout into `run`;
// false if there was none.
bool parse_report(const std::string& out, Run* run);

// Ctrl-C: install_interrupt_handler() makes SIGINT set a flag (and wake a
// running run_child(), which then kills its child); the run loop checks
// interrupt_requested() between children.
void install_interrupt_handler();
bool interrupt_requested();

}  // namespace gilrun::cli::bench
