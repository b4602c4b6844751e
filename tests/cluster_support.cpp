// cluster_support.cpp — GilrunProcess and ClusterTest (cluster_support.h).
#include "cluster_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace gilrun::test {

using Clock = std::chrono::steady_clock;

GilrunProcess::GilrunProcess(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
  std::vector<std::string> argv_s{"gilrun"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "GILRUN_", 7) != 0) env_s.emplace_back(*e);
  }
  std::vector<char*> env;
  for (std::string& e : env_s) env.push_back(e.data());
  env.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const std::string dir = std::string(GILRUN_TEST_DATA) + "/cluster";
  posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (posix_spawn(&pid_, GILRUN_BINARY, &fa, &attr, argv.data(), env.data()) != 0) pid_ = -1;
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  reader_ = std::thread([this, o = out[0], e = err[0]] { read_all(o, e); });
}

void GilrunProcess::read_all(int out_fd, int err_fd) {
  int fds_open = 2;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  while (fds_open > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[8192];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        (i == 0 ? out_ : err_).append(buffer, static_cast<size_t>(n));
        changed_.notify_all();
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --fds_open;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

GilrunProcess::~GilrunProcess() {
  if (pid_ > 0 && status_ < 0) {
    kill(pid_, SIGKILL);
    int s = 0;
    waitpid(pid_, &s, 0);
  }
  if (reader_.joinable()) reader_.join();
}

std::string GilrunProcess::out() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return out_;
}

std::string GilrunProcess::err() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return err_;
}

bool GilrunProcess::wait_for(const std::string& text, bool err, double seconds, size_t from) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] {
    const std::string& s = err ? err_ : out_;
    return (s.size() > from && s.find(text, from) != std::string::npos) || closed_;
  }) && (err ? err_ : out_).find(text, from) != std::string::npos;
}

void GilrunProcess::signal(int sig) {
  if (pid_ > 0 && status_ < 0) kill(pid_, sig);
}

int GilrunProcess::wait(double seconds) {
  if (status_ >= 0) return status_;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  bool closed;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    closed = changed_.wait_until(lock, deadline, [&] { return closed_; });
  }
  int s = 0;
  if (!closed) {  // still running: kill it, and say so
    kill(pid_, SIGKILL);
    waitpid(pid_, &s, 0);
    status_ = 1000;
    return -1;
  }
  waitpid(pid_, &s, 0);
  status_ = WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
  return status_;
}

void ClusterTest::SetUp() {
  std::string why;
  if (!RedisServer::available(&why)) GTEST_SKIP() << why;
  ASSERT_TRUE(redis_.start(&why)) << why;
}

std::unique_ptr<GilrunProcess> ClusterTest::worker(const std::vector<std::string>& flags) {
  std::vector<std::string> args{"worker", "--broker=" + url()};
  args.insert(args.end(), flags.begin(), flags.end());
  bool concurrency = false;
  for (const std::string& f : flags) concurrency = concurrency || f.rfind("--concurrency", 0) == 0;
  if (!concurrency) args.push_back("--concurrency=1");
  args.push_back("tasks.lua");
  auto w = std::make_unique<GilrunProcess>(args);
  EXPECT_TRUE(w->wait_for(" ready (")) << w->describe();
  return w;
}

void ClusterTest::stop(GilrunProcess& w) {
  w.signal(SIGTERM);
  EXPECT_EQ(w.wait(), 0) << w.describe();
}

std::unique_ptr<GilrunProcess> ClusterTest::client(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> all{script, url()};
  all.insert(all.end(), args.begin(), args.end());
  auto c = std::make_unique<GilrunProcess>(all);
  c->wait(60);
  return c;
}

}  // namespace gilrun::test
