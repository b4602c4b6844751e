// child_process.h — starting, signalling and reaping child processes. This
// file is private to the runtime.
//
// Children are started with posix_spawn (never a bare fork of a running,
// multithreaded VM), with an empty signal mask and default dispositions (the
// parent blocks SIGINT in every thread; a child must not inherit that). Each
// child gets a pidfd: it becomes readable when the child exits, so a binding
// waits for the exit with wait_fd() like for any other descriptor.
//
// No orphans: every child is started through the gilrun binary itself (the
// `--process-worker` and `--process-exec` modes, see process_entry.h), whose
// first act is die_with_parent(). PR_SET_PDEATHSIG fires when the *thread*
// that spawned the child ends, not the process, so every spawn runs on one
// spawner thread that lives as long as the process. No zombies: a
// ChildProcess reaps its child; destroying one whose child still runs kills
// it (SIGKILL) and reaps it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gilrun {

struct SpawnSpec {
  std::vector<std::string> argv;                 // argv[0]: an absolute path
  std::optional<std::vector<std::string>> env;  // "NAME=value"; nullopt: inherit
  std::string cwd;                               // empty: inherit
  // {parent fd, child fd}: the child gets parent fd as child fd. A pair with
  // equal numbers keeps the descriptor under its number (clearing CLOEXEC).
  std::vector<std::pair<int, int>> fds;
};

class ChildProcess {
 public:
  // spawn() starts a child; on failure returns null with *error set. Blocks
  // briefly (call it with the GIL released).
  static std::unique_ptr<ChildProcess> spawn(const SpawnSpec& spec, std::string* error);
  ~ChildProcess();  // kills and reaps a child that still runs
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_; }  // readable once the child has exited
  // try_reap() reaps the child if it has exited; true once reaped.
  bool try_reap();
  // reap() waits for the child to exit (no GIL: call it only once the pidfd
  // is readable, or after SIGKILL).
  void reap();
  bool reaped() const { return reaped_; }
  // exit_code(): the status it exited with, or -signal if a signal ended it
  // (Python's Popen.returncode). Only once reaped.
  int exit_code() const { return exit_code_; }
  // send_signal() signals a child that has not been reaped; false otherwise.
  bool send_signal(int signal);

 private:
  ChildProcess(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
  void record(int wait_status);

  pid_t pid_;
  int pidfd_;
  bool reaped_ = false;
  int exit_code_ = 0;
};

// die_with_parent() is the first thing a child started by ChildProcess does:
// it asks for SIGKILL when its parent dies, then checks the parent it was
// started by is still there (it may have died before the request took
// effect); if not, it exits at once.
void die_with_parent(pid_t expected_parent);

// signal_name() is "SIGKILL"-style text for a signal number.
std::string signal_name(int signal);

}  // namespace gilrun
