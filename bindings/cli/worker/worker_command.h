// worker_command.h — `gilrun worker`: a Celery-protocol worker on Redis.
//
//   gilrun worker --broker=redis://HOST:PORT/DB [--queues=celery,other]
//                 [--concurrency=N] [--result-backend=redis://...]
//                 [--loglevel=info] [--visibility-timeout=SECONDS]
//                 [--hostname=NAME] tasks.lua
//
// supervisor.cpp runs N worker processes (child.cpp), each its own
// interpreter running cluster/worker.lua.
#pragma once

#include <string>
#include <vector>

namespace gilrun::cli::worker {

struct WorkerOptions {
  std::string broker;
  std::string backend;  // empty: the broker
  std::vector<std::string> queues{"celery"};
  int concurrency = 0;  // 0: the CPU count
  std::string loglevel = "info";
  double visibility_timeout = 3600;
  std::string hostname;
  std::string tasks;  // tasks.lua
  // The hidden child mode (supervisor.cpp starts children with these).
  int child = -1;
  int parent = 0;
  int control_fd = -1;
};

// run_worker() is `gilrun worker ARGS...` (argv after "worker").
int run_worker(int argc, char** argv);

// Within the command: the supervisor and a child.
int run_supervisor(const WorkerOptions& options, const std::string& exe);
int run_child(const WorkerOptions& options);

// lua_quote() is `s` as a Lua string literal (any bytes).
std::string lua_quote(const std::string& s);
// worker_call() is the Lua source of require("cluster.worker").FN(cfg),
// cfg the options as a table literal.
std::string worker_config(const WorkerOptions& options);

}  // namespace gilrun::cli::worker
