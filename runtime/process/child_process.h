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
//
// A child forked by the fork server (fork_server.h) is not our child but the
// server's: we cannot waitpid() it. Such a ChildProcess is made by adopt():
// the server hands us a pidfd (signals) and keeps the write end of a status
// pipe, writing the wait status into it once it has reaped the child. The
// read end is then what exit_fd() returns, and reaping means reading it: the
// same interface, so a binding cannot tell the two apart.
#pragma once

#include <sys/types.h>

#include <cstddef>
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
  // adopt() takes over a child of the fork server: its pid, a pidfd for it
  // and the read end of its status pipe (see the notes above). Takes
  // ownership of both descriptors.
  static std::unique_ptr<ChildProcess> adopt(pid_t pid, int pidfd, int status_fd);
  ~ChildProcess();  // kills and reaps a child that still runs
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // exit_fd() becomes readable once the child has exited and can be reaped
  // (the pidfd of a spawned child, the status pipe of an adopted one).
  int exit_fd() const { return status_fd_ >= 0 ? status_fd_ : pidfd_; }
  int pidfd() const { return exit_fd(); }  // the older name of exit_fd()
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

  // live() counts ChildProcess objects not yet destroyed, in the whole
  // process (the fork servers' own included): the tests' leak check.
  static std::size_t live();

 private:
  ChildProcess(pid_t pid, int pidfd, int status_fd);
  void record(int wait_status);
  bool read_status(bool block);  // an adopted child's try_reap/reap

  pid_t pid_;
  int pidfd_;
  int status_fd_;  // adopted: the status pipe's read end; spawned: -1
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
