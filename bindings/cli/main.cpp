// main.cpp — the gilrun command: lua.c's shape on top of the embedding API.
//
// Everything the program does goes through gilrun::Interpreter; this file
// only orders the steps (lua_main.cpp runs what lua.c's pmain runs) and turns
// results into messages and exit statuses.
#include <iostream>

#include "command_line.h"
#include "gilrun/gilrun.h"
#include "gilrun/process_entry.h"
#include "lua_main.h"
#include "run_outputs.h"
#include "top_command.h"
#include "worker/worker_command.h"

namespace {

using gilrun::RunResult;

constexpr int kInterruptedStatus = 130;  // 128 + SIGINT, like a shell

// report() prints an error like lua.c and returns the exit status for it.
int report(const RunResult& result, const char* progname) {
  if (result) return 0;
  std::cerr << progname << ": " << result.text() << std::endl;
  return result.status == RunResult::interrupted ? kInterruptedStatus : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // A child of the process module (hidden modes, not for users).
  if (const int status = gilrun::run_process_mode(argc, argv); status >= 0) return status;
  // `gilrun top ...`: watch another gilrun's GIL (a script named "top": ./top).
  if (argc >= 2 && std::string(argv[1]) == "top") return gilrun::cli::top::run_top(argc - 2, argv + 2);
  // `gilrun worker ...`: a Celery-protocol worker on Redis (worker/).
  if (argc >= 2 && std::string(argv[1]) == "worker") return gilrun::cli::worker::run_worker(argc - 1, argv + 1);
  const auto parsed = gilrun::cli::parse_command_line(argc, argv);
  if (!parsed.invocation) return parsed.exit_status;
  const gilrun::cli::Invocation& inv = *parsed.invocation;
  if (inv.bench) return gilrun::cli::bench::run_bench(inv.bench_flags);
  gilrun::cli::RunOutputs outputs(inv);
  if (!outputs.open()) return 1;  // before the run, not after it

  gilrun::Options options = gilrun::cli::to_options(inv);
  // os.exit, a second Ctrl-C, SIGTERM: the ways out that do not come back here.
  options.on_exit = [&outputs](int, const gilrun::Stats& stats) { outputs.write(stats); };

  gilrun::Interpreter interpreter(options);
  outputs.attach(&interpreter);
  interpreter.set_args(inv.argv, inv.script_index >= 0 ? inv.script_index : 0);

  int status = gilrun::cli::run_lua_main(interpreter, inv);
  // Like Python: the main chunk's end (or error) waits for non-daemon threads.
  const int wait_status = report(interpreter.wait_for_threads(), inv.progname());
  if (status == 0) status = wait_status;
  if (!outputs.write(interpreter.stats()) && status == 0) status = 1;
  interpreter.close();
  return status;
}
