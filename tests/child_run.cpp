// child_run.cpp — see child_run.h.
#include "child_run.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace gilrun_test {

using Clock = std::chrono::steady_clock;

namespace {

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// child_environment() is ours without GILRUN_*, with `env` added or replacing.
std::vector<std::string> child_environment(const std::vector<std::string>& env) {
  std::vector<std::string> all;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (entry.rfind("GILRUN_", 0) == 0) continue;
    bool replaced = false;
    for (const std::string& add : env) {
      const size_t eq = add.find('=');
      if (eq != std::string::npos && entry.compare(0, eq + 1, add, 0, eq + 1) == 0) replaced = true;
    }
    if (!replaced) all.push_back(entry);
  }
  all.insert(all.end(), env.begin(), env.end());
  return all;
}

size_t occurrences(const std::string& text, const std::string& needle, size_t from) {
  size_t n = 0;
  for (size_t at = text.find(needle, from); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace

std::string ChildResult::describe() const {
  std::string s = "exit status " + std::to_string(exit_status);
  if (term_signal != 0) s += ", killed by signal " + std::to_string(term_signal);
  if (timed_out) s += ", TIMED OUT";
  return s + "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err + "\n---";
}

Child::Child(ChildSpec spec)
    : deadline_(Clock::now() + spec.limit),
      stdin_text_(std::move(spec.stdin_text)),
      keep_stdin_(spec.keep_stdin) {
  // A child that exits before reading all its stdin must not end the test.
  static const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
  (void)sigpipe_ignored;
  // Everything the child needs is made before fork(): after it, only
  // async-signal-safe calls.
  std::vector<std::string> argv_s{spec.argv0};
  argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
  std::vector<std::string> env_s = child_environment(spec.env);
  std::vector<char*> argv_p, env_p;
  for (const std::string& s : argv_s) command_ += (command_.empty() ? "" : " ") + s;
  for (std::string& s : argv_s) argv_p.push_back(s.data());
  argv_p.push_back(nullptr);
  for (std::string& s : env_s) env_p.push_back(s.data());
  env_p.push_back(nullptr);
  const char* program = spec.program.c_str();
  const char* dir = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  const rlim_t address_space = spec.address_space;

  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    closed_ = true;  // nothing to wait for
    return;
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    if (dir != nullptr && chdir(dir) != 0) _exit(126);
    if (address_space != 0) {
      const struct rlimit limit = {address_space, address_space};
      if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(126);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, nullptr);
    sigaction(SIGPIPE, &dfl, nullptr);
    execve(program, argv_p.data(), env_p.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid_ < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    close(in[1]);
    close(out[0]);
    close(err[0]);
    closed_ = true;
    return;
  }
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  io_ = std::thread([this, i = in[1], o = out[0], e = err[0], w = wake_] { pump(i, o, e, w); });
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {}
  }
  if (io_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    const uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
    io_.join();
  }
  close_fd(pidfd_);
  close_fd(wake_);
}

// pump() is the I/O thread: writes stdin, reads stdout and stderr until both
// close, the deadline passes (then it kills the child) or ~Child stops it.
void Child::pump(int in, int out, int err, int wake) {
  size_t written = 0;
  for (;;) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stop_ || killed_ || (out < 0 && err < 0)) break;
    const bool pending = in >= 0 && written < stdin_text_.size();
    if (in >= 0 && !pending && !keep_stdin_) close_fd(in);
    lock.unlock();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left.count() < 0) {
      kill(pid_, SIGKILL);
      lock.lock();
      killed_ = true;
      break;
    }
    pollfd fds[4];
    int n = 0;
    fds[n++] = {wake, POLLIN, 0};
    if (out >= 0) fds[n++] = {out, POLLIN, 0};
    if (err >= 0) fds[n++] = {err, POLLIN, 0};
    if (pending) fds[n++] = {in, POLLOUT, 0};
    if (poll(fds, n, static_cast<int>(left.count()) + 1) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      const int fd = fds[i].fd;
      if (fd == wake) {
        uint64_t count;
        (void)!read(wake, &count, sizeof count);
      } else if (fd == in) {
        lock.lock();
        const ssize_t w = write(in, stdin_text_.data() + written, stdin_text_.size() - written);
        lock.unlock();
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) close_fd(in);  // the child closed it
      } else {
        char buffer[8192];
        const ssize_t got = read(fd, buffer, sizeof buffer);
        if (got > 0) {
          lock.lock();
          (fd == out ? result_.out : result_.err).append(buffer, static_cast<size_t>(got));
          changed_.notify_all();
          lock.unlock();
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_fd(fd == out ? out : err);
        }
      }
    }
  }
  close_fd(in);
  close_fd(out);
  close_fd(err);
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

bool Child::wait_for(Stream s, const std::string& needle, size_t count, size_t from) {
  std::unique_lock<std::mutex> lock(mutex_);
  const std::string& text = s == Stream::out ? result_.out : result_.err;
  const auto found = [&] { return occurrences(text, needle, from) >= count; };
  changed_.wait(lock, [&] { return found() || closed_; });
  return found();
}

std::string Child::line() {
  wait_for(Stream::out, "\n", 1, line_at_);
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t nl = result_.out.find('\n', line_at_);
  const size_t end = nl == std::string::npos ? result_.out.size() : nl + 1;
  std::string line = result_.out.substr(line_at_, end - line_at_);
  line_at_ = end;
  return line;
}

void Child::send(const std::string& text) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stdin_text_ += text;
  }
  const uint64_t one = 1;
  (void)!write(wake_, &one, sizeof one);
}

void Child::close_stdin() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    keep_stdin_ = false;
  }
  const uint64_t one = 1;
  (void)!write(wake_, &one, sizeof one);
}

void Child::signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

ChildResult Child::finish() {
  if (pid_ <= 0) return result_;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return closed_; });  // the I/O thread keeps the deadline
  }
  if (io_.joinable()) io_.join();
  if (!reaped_) {
    // Output closed: the child has exited or is about to (or holds on
    // without it, until the deadline).
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    pollfd p{pidfd_, POLLIN, 0};
    if (killed_ || poll(&p, 1, std::max<int>(static_cast<int>(left.count()), 0) + 1) != 1) {
      kill(pid_, SIGKILL);
      killed_ = true;
    }
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
    reaped_ = true;
    if (WIFEXITED(status)) result_.exit_status = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result_.term_signal = WTERMSIG(status);
    result_.timed_out = killed_;
    if (killed_) {
      ADD_FAILURE() << command_ << " did not finish within its limit and was killed\n"
                    << result_.describe();
    }
  }
  return result_;
}

ChildResult Child::so_far() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return result_;
}

ChildResult run_child(ChildSpec spec) { return Child(std::move(spec)).finish(); }

ChildSpec shell_spec(const std::string& command) {
  ChildSpec spec;
  spec.program = "/bin/sh";
  spec.argv0 = "sh";
  spec.args = {"-c", command};
  return spec;
}

ChildResult run_shell(const std::string& command) { return run_child(shell_spec(command)); }

}  // namespace gilrun_test
