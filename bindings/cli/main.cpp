// main.cpp — the gilrun command: lua.c's shape on top of the embedding API.
//
// Everything the program does goes through gilrun::Interpreter; this file
// only orders the steps (lua_main.cpp runs what lua.c's pmain runs) and turns
// results into messages and exit statuses.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "command_line.h"
#include "gilrun/gilrun.h"
#include "gilrun/modules.h"
#include "gilrun/process_entry.h"
#include "lua_main.h"
#include "stats_report.h"

namespace {

using gilrun::RunResult;

constexpr int kInterruptedStatus = 130;  // 128 + SIGINT, like a shell

// report() prints an error like lua.c and returns the exit status for it.
int report(const RunResult& result, const char* progname) {
  if (result) return 0;
  std::cerr << progname << ": " << result.text() << std::endl;
  return result.status == RunResult::interrupted ? kInterruptedStatus : 1;
}

void print_stats(const std::string& format, const gilrun::Stats& stats) {
  if (format == "json") {
    gilrun::cli::print_stats_json(std::cerr, stats);
  } else if (!format.empty()) {
    gilrun::cli::print_stats_table(std::cerr, stats);
  }
}

// write_file() writes one output file, reporting failure on stderr.
template <class Write>
bool write_file(const std::string& path, Write&& write) {
  std::ofstream out(path, std::ios::binary);
  if (out) write(out);
  out.close();
  if (!out) {
    std::cerr << "gilrun: cannot write " << path << ": " << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

// write_recordings() writes --trace and --timeline files, if asked for.
bool write_recordings(const gilrun::Interpreter& interpreter, const gilrun::cli::Invocation& inv) {
  bool ok = true;
  if (!inv.trace_file.empty()) {
    ok &= write_file(inv.trace_file, [&](std::ostream& out) { interpreter.write_trace(out); });
  }
  if (!inv.timeline_file.empty()) {
    std::string title = inv.script_index >= 0 ? inv.argv[inv.script_index] : "gilrun";
    title += " (--gil=" + inv.policy + ")";
    ok &= write_file(inv.timeline_file,
                     [&](std::ostream& out) { interpreter.write_timeline(out, title); });
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  // A child of the process module (hidden modes, not for users).
  if (const int status = gilrun::run_process_mode(argc, argv); status >= 0) return status;
  const auto parsed = gilrun::cli::parse_command_line(argc, argv);
  if (!parsed.invocation) return parsed.exit_status;
  const gilrun::cli::Invocation& inv = *parsed.invocation;
  if (inv.bench) return gilrun::cli::bench::run_bench(inv.bench_options);

  gilrun::Options options;
  options.handle_sigint = true;
  options.policy = inv.policy;
  if (inv.switch_interval) options.switch_interval = *inv.switch_interval;
  if (inv.green_block_warn) options.green_block_warn = *inv.green_block_warn;
  options.force_switching = inv.force_switching;
  options.check_interval = inv.check_interval;
  options.ignore_env = inv.ignore_env;
  options.record_trace = !inv.trace_file.empty() || !inv.timeline_file.empty();
  options.libraries = [](lua_State* L) { gilrun::preload_modules(L); };
  options.on_exit = [&inv](int, const gilrun::Stats& stats) { print_stats(inv.stats, stats); };

  gilrun::Interpreter interpreter(options);
  interpreter.set_args(inv.argv, inv.script_index >= 0 ? inv.script_index : 0);

  int status = gilrun::cli::run_lua_main(interpreter, inv);
  // Like Python: the main chunk's end (or error) waits for non-daemon threads.
  const int wait_status = report(interpreter.wait_for_threads(), inv.progname());
  if (status == 0) status = wait_status;
  print_stats(inv.stats, interpreter.stats());
  if (!write_recordings(interpreter, inv) && status == 0) status = 1;
  interpreter.close();
  return status;
}
