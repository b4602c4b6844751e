// supervisor.cpp — the `gilrun worker` process: starts --concurrency worker
// processes (child.cpp) and looks after them.
//
// Notes
// -----
// Celery's prefork pool in its simplest form: each child is its own
// interpreter and GIL and consumes from Redis itself (BRPOP), one task at a
// time. The supervisor keeps a socket to each child, on which the child
// reports what it holds (worker.lua's notes list the lines), and acts on
// what only an outsider can do:
//   - a hard time limit (header timelimit[0], Celery's [hard, soft]): when a
//     task runs past it, the child is killed (SIGKILL), the task reported as
//     FAILURE TimeLimitExceeded and acked, the child's other held messages
//     put back, and a new child started;
//   - a child that dies (a crash, kill -9): what it held is put back on its
//     queue at once (kombu's restore_by_tag) and a new child started; a task
//     that was running in a second child that dies fails instead
//     (WorkerLostError), so a task that kills its process cannot loop. If the
//     supervisor itself is killed the children die with it (PDEATHSIG) and
//     their messages come back after the visibility timeout, through any
//     other worker's restore_visible;
//   - SIGTERM or SIGINT: warm shutdown. Every child is told "stop": it
//     finishes its task, takes no more, puts back held eta messages, exits.
//     A second SIGTERM/SIGINT: cold shutdown. Children are killed and every
//     message they held goes back to its queue.
// The supervisor is also the node Celery's tools see (cluster/control.lua:
// pidbox replies to inspect ping/registered/active/stats, worker events),
// from a daemon thread of its interpreter.
// Redis work of its own (restoring, reporting a time limit) runs in the
// supervisor's own interpreter, through the same cluster/worker.lua
// functions, so the protocol lives in one place. Signals are taken with a
// signalfd in the one poll() loop (blocked in every thread).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lua.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gilrun/gilrun.h"
#include "gilrun/modules.h"
#include "process/child_process.h"
#include "worker_command.h"

namespace gilrun::cli::worker {
namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  std::string tag, id, name;
  double hard = 0;
  std::optional<Clock::time_point> deadline;
};

struct Child {
  int index = 0;
  std::unique_ptr<ChildProcess> process;
  int control = -1;
  std::string buffer;
  std::set<std::string> held;
  std::optional<Running> running;
  bool ready = false;
};

class Supervisor {
 public:
  Supervisor(const WorkerOptions& o, std::string exe) : o_(o), exe_(std::move(exe)) {}
  int run();

 private:
  bool lua(const std::string& code);
  // control() calls cluster.control's fn with string arguments (control.lua:
  // the node's answers to Celery's remote control and its events).
  void control(const char* fn, const std::vector<std::string>& args);
  std::string tags_literal(const std::set<std::string>& tags, const std::string* except);
  bool spawn(Child& c);
  void on_line(Child& c, const std::string& line);
  void on_control(Child& c);
  void on_exit(Child& c);
  void on_deadline(Child& c);
  void restore_held(Child& c, const std::string* except);
  void fail_task(const Running& r, const std::string& type, const std::string& module, const std::string& message);
  void close_child(Child& c);
  void warm();
  void cold();
  void say(const std::string& text) {
    std::cerr << "[gilrun worker " << o_.hostname << "] " << text << std::endl;
  }

  const WorkerOptions& o_;
  const std::string exe_;
  std::unique_ptr<Interpreter> interpreter_;
  std::vector<Child> children_;
  std::set<std::string> lost_;  // ids of tasks whose worker process died once
  bool stopping_ = false;
  bool announced_ = false;
  int sigfd_ = -1;
};

bool Supervisor::lua(const std::string& code) {
  const RunResult r = interpreter_->run_string(code, "=(gilrun worker)");
  if (!r) say(r.text());
  return static_cast<bool>(r);
}

void Supervisor::control(const char* fn, const std::vector<std::string>& args) {
  const RunResult r = interpreter_->with_lua([&](lua_State* L) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cluster.control");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, fn);
    for (const std::string& a : args) lua_pushlstring(L, a.data(), a.size());
    lua_call(L, static_cast<int>(args.size()), 0);
    lua_pop(L, 1);
  });
  if (!r) say(r.text());
}

std::string Supervisor::tags_literal(const std::set<std::string>& tags, const std::string* except) {
  std::string out = "{";
  for (const std::string& t : tags) {
    if (except && t == *except) continue;
    out += lua_quote(t) + ",";
  }
  return out + "}";
}

bool Supervisor::spawn(Child& c) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    say(std::string("cannot make a socket: ") + std::strerror(errno));
    return false;
  }
  SpawnSpec spec;
  spec.argv = {exe_, "worker", "--child", std::to_string(c.index), "--parent", std::to_string(getpid()),
               "--control-fd", "3", "--broker", o_.broker, "--loglevel", o_.loglevel, "--hostname", o_.hostname};
  if (!o_.backend.empty()) spec.argv.insert(spec.argv.end(), {"--result-backend", o_.backend});
  std::string queues;
  for (const std::string& q : o_.queues) queues += (queues.empty() ? "" : ",") + q;
  char vt[64];
  std::snprintf(vt, sizeof vt, "%.17g", o_.visibility_timeout);
  spec.argv.insert(spec.argv.end(), {"--queues", queues, "--visibility-timeout", vt, "--", o_.tasks});
  spec.fds = {{sv[1], 3}};
  std::string error;
  c.process = ChildProcess::spawn(spec, &error);
  ::close(sv[1]);
  if (!c.process) {
    ::close(sv[0]);
    say("cannot start a worker process: " + error);
    return false;
  }
  c.control = sv[0];
  c.buffer.clear();
  c.held.clear();
  c.running.reset();
  c.ready = false;
  return true;
}

void Supervisor::on_line(Child& c, const std::string& line) {
  std::istringstream in(line);
  std::string kind, tag;
  in >> kind >> tag;
  if (kind == "R") {
    c.ready = true;
    if (!announced_) {
      bool all = true;
      for (const Child& other : children_) all = all && other.ready;
      if (all) {
        announced_ = true;
        std::cout << o_.hostname << " ready (" << children_.size() << " processes)." << std::endl;
      }
    }
  } else if (kind == "U") {
    c.held.insert(tag);
  } else if (kind == "A") {
    c.held.erase(tag);
    if (c.running && c.running->tag == tag) {
      control("note_finished", {c.running->id});
      c.running.reset();
    }
  } else if (kind == "B") {
    Running r;
    r.tag = tag;
    in >> r.hard >> r.id >> r.name;
    if (r.hard > 0) {
      r.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(r.hard));
    }
    c.running = r;
    control("note_started", {r.id, r.name, std::to_string(c.process->pid())});
  }
}

void Supervisor::on_control(Child& c) {
  char buffer[4096];
  const ssize_t n = ::read(c.control, buffer, sizeof buffer);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return;
    ::close(c.control);
    c.control = -1;
    return;
  }
  c.buffer.append(buffer, static_cast<size_t>(n));
  size_t nl;
  while ((nl = c.buffer.find('\n')) != std::string::npos) {
    const std::string line = c.buffer.substr(0, nl);
    c.buffer.erase(0, nl + 1);
    on_line(c, line);
  }
}

void Supervisor::restore_held(Child& c, const std::string* except) {
  size_t n = c.held.size() - (except && c.held.count(*except) ? 1 : 0);
  if (n == 0) return;
  say("putting back " + std::to_string(n) + " message(s) held by worker process " + std::to_string(c.index + 1));
  lua("require('cluster.worker').restore(" + lua_quote(o_.broker) + ", " + tags_literal(c.held, except) + ")");
  c.held.clear();
}

void Supervisor::fail_task(const Running& r, const std::string& type, const std::string& module,
                           const std::string& message) {
  lua("require('cluster.worker').fail_task(" + lua_quote(o_.broker) + ", " +
      lua_quote(o_.backend.empty() ? o_.broker : o_.backend) + ", " + lua_quote(r.tag) + ", " + lua_quote(r.id) + ", " +
      lua_quote(type) + ", " + lua_quote(module) + ", " + lua_quote(message) + ")");
  control("note_finished", {r.id});
}

void Supervisor::close_child(Child& c) {
  // Read what the child still said before it went (its last "A" lines).
  while (c.control >= 0) {
    pollfd p{c.control, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
    on_control(c);
  }
  if (c.control >= 0) ::close(c.control);
  c.control = -1;
}

void Supervisor::on_exit(Child& c) {
  c.process->reap();
  const int code = c.process->exit_code();
  close_child(c);
  const bool crashed = code != 0;
  if (crashed) {
    say("worker process " + std::to_string(c.index + 1) + " (pid " + std::to_string(c.process->pid()) + ") " +
        (code < 0 ? "was killed by " + signal_name(-code) : "exited with status " + std::to_string(code)));
  }
  // The task it was running goes back to its queue once; a task that loses
  // a second worker process fails (Celery's WorkerLostError), so one that
  // crashes its process cannot loop for ever.
  if (c.running && crashed) {
    if (lost_.count(c.running->id)) {
      fail_task(*c.running, "WorkerLostError", "billiard.exceptions",
                "worker process lost twice running " + c.running->name + "[" + c.running->id + "]");
      c.held.erase(c.running->tag);
    } else {
      lost_.insert(c.running->id);
      control("note_finished", {c.running->id});
    }
    c.running.reset();
  }
  restore_held(c, nullptr);
  c.process.reset();
  if (stopping_) return;
  if (!c.ready) {  // it never got going: tasks.lua or Redis is wrong; do not loop
    say("a worker process failed to start; stopping");
    stopping_ = true;
    cold();
    return;
  }
  spawn(c);
}

void Supervisor::on_deadline(Child& c) {
  const Running r = *c.running;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", r.hard);
  say("Hard time limit (" + std::string(seconds) + "s) exceeded for " + r.name + "[" + r.id + "]: killing worker process " +
      std::to_string(c.index + 1));
  c.process->send_signal(SIGKILL);
  c.process->reap();
  close_child(c);
  fail_task(r, "TimeLimitExceeded", "billiard.exceptions",
            "task " + r.name + "[" + r.id + "] killed after its hard time limit of " + seconds + " s");
  c.held.erase(r.tag);
  control("note_finished", {r.id});
  restore_held(c, nullptr);
  c.process.reset();
  if (!stopping_) spawn(c);
}

void Supervisor::warm() {
  say("warm shutdown: finishing the running tasks (again to stop at once)");
  for (Child& c : children_) {
    if (c.control >= 0) (void)!::write(c.control, "stop\n", 5);
  }
}

void Supervisor::cold() {
  for (Child& c : children_) {
    if (!c.process) continue;
    c.process->send_signal(SIGKILL);
    c.process->reap();
    close_child(c);
    restore_held(c, nullptr);
    c.process.reset();
  }
}

int Supervisor::run() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts
  sigfd_ = signalfd(-1, &set, SFD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);

  Options options;
  options.libraries = [](lua_State* L) { preload_modules(L); };
  interpreter_ = std::make_unique<Interpreter>(options);
  interpreter_->set_args({"gilrun", o_.tasks}, 1);
  // tasks.lua must load here first: its errors are reported once, not by
  // every child; then Redis must answer at both URLs.
  RunResult r = interpreter_->run_file(o_.tasks);
  if (!r) {
    std::cerr << "gilrun worker: " << r.text() << std::endl;
    return 1;
  }
  const std::string backend = o_.backend.empty() ? o_.broker : o_.backend;
  r = interpreter_->run_string("require('cluster.worker').check{" + lua_quote(o_.broker) + ", " + lua_quote(backend) + "}",
                               "=(gilrun worker)");
  if (!r) {
    std::cerr << "gilrun worker: " << r.message << std::endl;
    return 1;
  }
  std::string tasks, names_literal = "{";
  interpreter_->with_lua([&](lua_State* L) {
    lua_getglobal(L, "require");
    lua_pushstring(L, "cluster");
    if (lua_pcall(L, 1, 1, 0) != 0) return;
    lua_getfield(L, -1, "tasks");
    std::set<std::string> names;
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING) names.insert(lua_tostring(L, -1));
    }
    for (const std::string& n : names) {
      tasks += "\n    . " + n;
      names_literal += lua_quote(n) + ",";
    }
  });
  names_literal += "}";
  // Celery's tools see the node from here on (control.lua).
  if (!lua("require('cluster.control').start{url = " + lua_quote(o_.broker) + ", hostname = " + lua_quote(o_.hostname) +
           ", tasks = " + names_literal + ", concurrency = " + std::to_string(o_.concurrency) + "}")) {
    return 1;
  }
  std::string queues;
  for (const std::string& q : o_.queues) queues += (queues.empty() ? "" : ", ") + q;
  std::cout << "gilrun worker " << o_.hostname << "\n"
            << "  broker:       " << o_.broker << "\n"
            << "  results:      " << backend << "\n"
            << "  concurrency:  " << o_.concurrency << " (processes)\n"
            << "  queues:       " << queues << "\n"
            << "  visibility:   " << o_.visibility_timeout << " s\n"
            << "  tasks:" << tasks << "\n    . gilrun.call (Lua functions from app:executor())" << std::endl;

  children_.resize(static_cast<size_t>(o_.concurrency));
  for (size_t i = 0; i < children_.size(); ++i) {
    children_[i].index = static_cast<int>(i);
    if (!spawn(children_[i])) {
      stopping_ = true;
      cold();
      return 1;
    }
  }
  int status = 0;
  while (true) {
    bool alive = false;
    for (const Child& c : children_) alive = alive || c.process;
    if (!alive) break;
    std::vector<pollfd> fds{{sigfd_, POLLIN, 0}};
    std::vector<std::pair<Child*, bool>> owners{{nullptr, false}};
    std::optional<Clock::time_point> next;
    for (Child& c : children_) {
      if (!c.process) continue;
      if (c.control >= 0) {
        fds.push_back({c.control, POLLIN, 0});
        owners.push_back({&c, true});
      }
      fds.push_back({c.process->pidfd(), POLLIN, 0});
      owners.push_back({&c, false});
      if (c.running && c.running->deadline && (!next || *c.running->deadline < *next)) next = c.running->deadline;
    }
    int timeout = -1;
    if (next) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now()).count();
      timeout = static_cast<int>(std::max<long long>(0, left + 1));
    }
    const int n = poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(sigfd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (!stopping_) {
          stopping_ = true;
          warm();
        } else {
          say("cold shutdown: stopping the workers now, their tasks go back to the queue");
          cold();
          status = 1;
          break;
        }
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      Child* c = owners[i].first;
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)) || !c->process) continue;
      if (owners[i].second) {
        if (c->control == fds[i].fd) on_control(*c);
      } else if (c->process->pidfd() == fds[i].fd) {
        on_exit(*c);
      }
    }
    const auto now = Clock::now();
    for (Child& c : children_) {
      if (c.process && c.running && c.running->deadline && *c.running->deadline <= now) on_deadline(c);
    }
    if (!announced_ && stopping_) {
      bool any_ready = false;
      for (const Child& c : children_) any_ready = any_ready || c.ready;
      if (!any_ready) status = 1;
    }
  }
  lua("require('cluster.control').stop()");
  if (status == 0) say("stopped");
  interpreter_->close();
  return status;
}

}  // namespace

int run_supervisor(const WorkerOptions& options, const std::string& exe) {
  Supervisor s(options, exe);
  return s.run();
}

}  // namespace gilrun::cli::worker
