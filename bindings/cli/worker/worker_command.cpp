// worker_command.cpp — `gilrun worker`'s flags (CLI11) and its dispatch to
// the supervisor or, in the hidden --child mode, to one worker process.
#include "worker_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <thread>

namespace gilrun::cli::worker {

std::string lua_quote(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\%03u", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string worker_config(const WorkerOptions& o) {
  std::string queues = "{";
  for (const std::string& q : o.queues) queues += lua_quote(q) + ",";
  queues += "}";
  const std::string backend = o.backend.empty() ? o.broker : o.backend;
  char vt[64];
  std::snprintf(vt, sizeof vt, "%.17g", o.visibility_timeout);
  return "{broker = " + lua_quote(o.broker) + ", backend = " + lua_quote(backend) + ", queues = " + queues +
         ", loglevel = " + lua_quote(o.loglevel) + ", visibility_timeout = " + vt +
         ", hostname = " + lua_quote(o.hostname) + "}";
}

int run_worker(int argc, char** argv) {
  WorkerOptions o;
  CLI::App app{"gilrun worker: run the tasks of tasks.lua for Celery-protocol clients over Redis", "gilrun worker"};
  std::string queues = "celery";
  app.add_option("--broker", o.broker, "the broker, redis://[:password@]HOST:PORT/DB")->required();
  app.add_option("--result-backend", o.backend, "where results go (default: the broker)");
  app.add_option("--queues,-Q", queues, "comma-separated queues to consume (default: celery)");
  app.add_option("--concurrency,-c", o.concurrency, "worker processes (default: the CPU count)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--loglevel,-l", o.loglevel, "debug, info, warning or error (default: info)")
      ->check(CLI::IsMember({"debug", "info", "warning", "error", "critical"}, CLI::ignore_case));
  app.add_option("--visibility-timeout", o.visibility_timeout,
                 "seconds before an unacknowledged task is delivered again (default: 3600)")
      ->check(CLI::Range(0.1, 1e7));
  app.add_option("--hostname,-n", o.hostname, "the worker's node name (default: gilrun@HOST)");
  app.add_option("tasks", o.tasks, "the Lua file that registers the tasks")->required();
  app.add_option("--child", o.child)->group("");
  app.add_option("--parent", o.parent)->group("");
  app.add_option("--control-fd", o.control_fd)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  o.queues.clear();
  for (size_t start = 0; start <= queues.size();) {
    size_t comma = queues.find(',', start);
    if (comma == std::string::npos) comma = queues.size();
    const std::string q = queues.substr(start, comma - start);
    if (!q.empty()) o.queues.push_back(q);
    start = comma + 1;
  }
  if (o.queues.empty()) {
    std::fprintf(stderr, "gilrun worker: --queues names no queue\n%s", app.help().c_str());
    return 2;
  }
  if (o.hostname.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    o.hostname = std::string("gilrun@") + host;
  }
  if (o.child >= 0) return run_child(o);
  if (o.concurrency == 0) o.concurrency = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    std::perror("gilrun worker: cannot find its own executable");
    return 1;
  }
  return run_supervisor(o, std::string(exe, static_cast<size_t>(n)));
}

}  // namespace gilrun::cli::worker
