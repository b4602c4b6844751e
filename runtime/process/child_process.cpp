// child_process.cpp — see child_process.h.
//
// Notes on the spawner thread
// ---------------------------
// Linux delivers PR_SET_PDEATHSIG when the thread that created the child
// exits, not when the whole parent process does. gilrun threads come and go
// (a Lua thread that spawned a worker may finish long before the worker), so
// a child spawned directly from one would be killed too early. Every
// posix_spawn therefore runs on a single detached "spawner" thread, started
// on first use and never ended: its exit is the process's exit, which is
// exactly when the children must die. Callers hand it a job and wait on a
// condition variable (with the GIL released by the binding).
#include "process/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

extern char** environ;

namespace gilrun {
namespace {

// Spawner runs jobs on its own long-lived thread.
class Spawner {
 public:
  static Spawner& instance() {
    static Spawner* spawner = new Spawner();  // never destroyed: see the notes
    return *spawner;
  }

  void run(const std::function<void()>& job) {
    bool done = false;
    std::unique_lock<std::mutex> lock(mutex_);
    jobs_.push_back([&] {
      job();
      std::lock_guard<std::mutex> relock(mutex_);
      done = true;
      finished_.notify_all();
    });
    wanted_.notify_one();
    finished_.wait(lock, [&] { return done; });
  }

 private:
  Spawner() { std::thread([this] { loop(); }).detach(); }

  void loop() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wanted_.wait(lock, [&] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable wanted_;
  std::condition_variable finished_;
  std::deque<std::function<void()>> jobs_;
};

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

// spawn_now() is posix_spawn with the attributes every child needs: an empty
// signal mask and default dispositions. Returns the pid or -errno.
pid_t spawn_now(SpawnSpec spec, std::string* what) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // The child gets 0-2 and the descriptors it is given, nothing else (as
  // Python's subprocess with close_fds=True): files a script opened with
  // io.open are not close-on-exec and would leak into every command and
  // worker. Kept targets below the highest are skipped; above it, closefrom.
  int highest_kept = STDERR_FILENO;
  for (const auto& [from, to] : spec.fds) {
    posix_spawn_file_actions_adddup2(&actions, from, to);
    highest_kept = std::max(highest_kept, to);
  }
  for (int fd = STDERR_FILENO + 1; fd < highest_kept; ++fd) {
    const bool kept = std::any_of(spec.fds.begin(), spec.fds.end(),
                                  [fd](const auto& pair) { return pair.second == fd; });
    if (!kept && fcntl(fd, F_GETFD) >= 0) posix_spawn_file_actions_addclose(&actions, fd);
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, highest_kept + 1);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  std::vector<char*> argv = c_strings(spec.argv);
  std::vector<char*> envp;
  if (spec.env) envp = c_strings(*spec.env);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(),
                             spec.env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    if (!spec.cwd.empty() && access(spec.cwd.c_str(), X_OK) != 0) {
      *what = "cannot start it in directory " + spec.cwd + ": " + strerror(errno);
    } else {
      *what = "cannot start " + spec.argv[0] + ": " + strerror(rc);
    }
    return -1;
  }
  return pid;
}

std::atomic<std::size_t> live_children{0};

}  // namespace

ChildProcess::ChildProcess(pid_t pid, int pidfd, int status_fd)
    : pid_(pid), pidfd_(pidfd), status_fd_(status_fd) {
  live_children.fetch_add(1, std::memory_order_relaxed);
}

std::size_t ChildProcess::live() { return live_children.load(std::memory_order_relaxed); }

std::unique_ptr<ChildProcess> ChildProcess::spawn(const SpawnSpec& spec, std::string* error) {
  if (spec.argv.empty()) {
    *error = "empty command";
    return nullptr;
  }
  pid_t pid = -1;
  std::string what;
  Spawner::instance().run([&] { pid = spawn_now(spec, &what); });
  if (pid < 0) {
    *error = what;
    return nullptr;
  }
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int saved = errno;
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
    *error = std::string("pidfd_open: ") + strerror(saved);
    return nullptr;
  }
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, pidfd, -1));
}

std::unique_ptr<ChildProcess> ChildProcess::adopt(pid_t pid, int pidfd, int status_fd) {
  fcntl(status_fd, F_SETFL, fcntl(status_fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, pidfd, status_fd));
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    send_signal(SIGKILL);
    reap();
  }
  close(pidfd_);
  if (status_fd_ >= 0) close(status_fd_);
  live_children.fetch_sub(1, std::memory_order_relaxed);
}

// read_status() reads the wait status the fork server wrote once it reaped
// the child. End of file without one: the server died, and with it the
// child (it dies with its parent, see die_with_parent).
bool ChildProcess::read_status(bool block) {
  int status = 0;
  while (!reaped_) {
    const ssize_t n = read(status_fd_, &status, sizeof status);
    if (n == sizeof status) {
      record(status);
    } else if (n >= 0) {
      reaped_ = true;
      exit_code_ = -SIGKILL;
    } else if (errno == EAGAIN) {
      if (!block) break;
      pollfd p{status_fd_, POLLIN, 0};
      poll(&p, 1, -1);
    } else if (errno != EINTR) {
      reaped_ = true;  // cannot happen on a pipe we own
      exit_code_ = -SIGKILL;
    }
  }
  return reaped_;
}

void ChildProcess::record(int wait_status) {
  reaped_ = true;
  exit_code_ = WIFSIGNALED(wait_status) ? -WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
}

bool ChildProcess::try_reap() {
  if (reaped_) return true;
  if (status_fd_ >= 0) return read_status(false);
  int status = 0;
  pid_t r;
  while ((r = waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {}
  if (r == pid_) record(status);
  return reaped_;
}

void ChildProcess::reap() {
  if (reaped_) return;
  if (status_fd_ >= 0) {
    read_status(true);
    return;
  }
  int status = 0;
  pid_t r;
  while ((r = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {}
  if (r == pid_) {
    record(status);
  } else {
    reaped_ = true;  // not ours to wait for any more (should not happen)
    exit_code_ = -SIGKILL;
  }
}

bool ChildProcess::send_signal(int signal) {
  if (reaped_) return false;
  return syscall(SYS_pidfd_send_signal, pidfd_, signal, nullptr, 0) == 0;
}

void die_with_parent(pid_t expected_parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != expected_parent) _exit(128 + SIGKILL);
}

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

}  // namespace gilrun
