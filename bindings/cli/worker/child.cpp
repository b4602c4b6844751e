// child.cpp — one worker process of `gilrun worker`: an interpreter that
// loads tasks.lua and runs cluster/worker.lua's loop until its supervisor
// says stop (or dies: the child dies with it).
//
// SIGINT and SIGTERM are ignored here: the supervisor alone decides (a
// Ctrl-C in a terminal reaches the whole process group, and the first one
// must be a warm shutdown that lets the running task finish).
#include <fcntl.h>
#include <signal.h>

#include <iostream>

#include "gilrun/gilrun.h"
#include "gilrun/modules.h"
#include "process/child_process.h"
#include "worker_command.h"

namespace gilrun::cli::worker {

int run_child(const WorkerOptions& o) {
  die_with_parent(static_cast<pid_t>(o.parent));
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  if (o.control_fd >= 0) fcntl(o.control_fd, F_SETFD, FD_CLOEXEC);
  Options options;
  options.libraries = [](lua_State* L) { preload_modules(L); };
  Interpreter interpreter(options);
  interpreter.set_args({"gilrun", o.tasks}, 1);
  RunResult r = interpreter.run_file(o.tasks);
  if (r) {
    const std::string name = "Worker-" + std::to_string(o.child + 1);
    std::string cfg = worker_config(o);
    cfg.insert(cfg.size() - 1, ", tasks = require('cluster').tasks, name = " + lua_quote(name) +
                                   ", control_fd = " + std::to_string(o.control_fd));
    r = interpreter.run_string("require('cluster.worker').run(" + cfg + ")", "=(gilrun worker)");
  }
  if (r) r = interpreter.wait_for_threads();
  if (!r) std::cerr << "gilrun worker: " << r.text() << std::endl;
  interpreter.close();
  return r ? 0 : 1;
}

}  // namespace gilrun::cli::worker
