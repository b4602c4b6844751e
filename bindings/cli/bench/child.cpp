// bench/child.cpp — spawning, watching and reaping one benchmark child.
//
// Notes:
// - The child is the binary itself, started like every gilrun child by
//   runtime/process/child_process.h (posix_spawn, empty signal mask, default
//   dispositions, a pidfd that is readable once it exits), with pipes on
//   stdout and stderr. It stays in our process group, so a terminal's
//   Ctrl-C reaches it too.
// - The parent polls both pipes, the pidfd and a self-pipe that the SIGINT
//   handler writes to (a signal handler may only set a flag and write(2)).
//   On Ctrl-C or a timeout the child gets SIGKILL. Every path reaps the
//   child, so none is left a zombie.
#include "bench/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "process/child_process.h"
#include "text_format.h"

namespace gilrun::cli::bench {
namespace {

volatile sig_atomic_t g_interrupted = 0;
int g_wake[2] = {-1, -1};  // the SIGINT handler's self-pipe

void on_sigint(int) {
  g_interrupted = 1;
  const int saved = errno;
  if (g_wake[1] >= 0) (void)!::write(g_wake[1], "i", 1);
  errno = saved;
}

constexpr size_t kMaxCapture = 1 << 20;  // per stream; the rest is dropped

// drain() appends what fd has to `into`; false at EOF or error.
bool drain(int fd, std::string* into) {
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  if (into->size() < kMaxCapture) into->append(buffer, static_cast<size_t>(n));
  return true;
}

// failure_text() is the most telling line of a failed child's stderr: its
// "PROGRAM: file:line: message" line (lua.c prefixes errors with argv[0]),
// else its last line.
std::string failure_text(const std::string& err, const std::string& program) {
  const std::string prefix = program + ": ";
  std::istringstream in(err);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    if (!line.empty()) last = line;
  }
  return last;
}

// describe_exit() explains exit code `code` (-signal if a signal ended it).
std::string describe_exit(int code, const std::string& err, const std::string& program) {
  if (code < 0) {
    return std::string("crashed: signal ") + std::to_string(-code) + " (" + strsignal(-code) + ")";
  }
  std::string text = "exit status " + std::to_string(code);
  const std::string why = failure_text(err, program);
  return why.empty() ? text : text + ": " + why;
}

struct Pipes {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  ~Pipes() {
    for (int fd : {out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
  }
  void close_write_ends() {
    ::close(out[1]);
    ::close(err[1]);
    out[1] = err[1] = -1;
  }
};

}  // namespace

void install_interrupt_handler() {
  if (g_wake[0] < 0 && pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) g_wake[0] = g_wake[1] = -1;
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

bool interrupt_requested() { return g_interrupted != 0; }

std::vector<std::string> child_argv(const std::string& self, const std::string& scripts_dir,
                                    const Configuration& config) {
  std::vector<std::string> argv = {self, "--gil=" + config.policy};
  if (!config.interval.empty()) argv.push_back("--switch-interval=" + config.interval);
  argv.push_back(scripts_dir + "/" + config.experiment->script);
  argv.insert(argv.end(), config.args.begin(), config.args.end());
  return argv;
}

bool parse_report(const std::string& out, Run* run) {
  std::istringstream in(out);
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string tag;
    words >> tag;
    if (tag == "@bench") {
      found = true;
      for (std::string word; words >> word;) {
        const auto eq = word.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
        char* end = nullptr;
        const double number = std::strtod(value.c_str(), &end);
        const bool ok = !value.empty() && *end == '\0';
        run->figures.emplace_back(key, ok ? std::optional<double>(number) : std::nullopt);
      }
    } else if (tag == "@bench-na") {
      std::string key, why;
      words >> key;
      std::getline(words >> std::ws, why);
      run->why_na[key] = why;
    }
  }
  return found;
}

Run run_child(const std::vector<std::string>& argv, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  Run run;
  Pipes pipes;
  if (pipe2(pipes.out, O_CLOEXEC) != 0 || pipe2(pipes.err, O_CLOEXEC) != 0) {
    run.error = std::string("pipe: ") + std::strerror(errno);
    return run;
  }
  SpawnSpec spec;
  spec.argv = argv;
  spec.fds = {{pipes.out[1], STDOUT_FILENO}, {pipes.err[1], STDERR_FILENO}};
  std::unique_ptr<ChildProcess> child = ChildProcess::spawn(spec, &run.error);
  if (!child) {
    run.error = "cannot start " + run.error;
    return run;
  }
  pipes.close_write_ends();

  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  std::string out, err;
  bool out_open = true, err_open = true, exited = false;
  while (out_open || err_open || !exited) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || g_interrupted) {
      run.status = g_interrupted ? Run::Status::interrupted : Run::Status::timed_out;
      child->send_signal(SIGKILL);
      child->reap();
      run.error = run.status == Run::Status::interrupted
                      ? "interrupted"
                      : "timed out after " + format("%g", timeout_s) + " s";
      return run;
    }
    pollfd fds[4] = {{out_open ? pipes.out[0] : -1, POLLIN, 0},
                     {err_open ? pipes.err[0] : -1, POLLIN, 0},
                     {exited ? -1 : child->pidfd(), POLLIN, 0},
                     {g_wake[0], POLLIN, 0}};
    // Once the child has exited, what is left in the pipes is already there;
    // do not wait for an EOF that a stray descendant could hold back.
    const int wait_ms = exited ? 100 : static_cast<int>(left.count() + 1);
    const int ready = ::poll(fds, 4, wait_ms);
    if (ready == 0 && exited) break;
    if (ready > 0) {
      if (fds[0].revents) out_open = drain(pipes.out[0], &out);
      if (fds[1].revents) err_open = drain(pipes.err[0], &err);
      if (fds[2].revents) exited = true;
      if (fds[3].revents) {
        char c;
        while (::read(g_wake[0], &c, 1) > 0) {
        }
      }
    }
  }
  child->reap();
  if (child->exit_code() != 0) {
    run.error = describe_exit(child->exit_code(), err, argv.front());
    return run;
  }
  if (!parse_report(out, &run)) {
    run.error = "no @bench line in the output";
    return run;
  }
  run.status = Run::Status::ok;
  return run;
}

}  // namespace gilrun::cli::bench
