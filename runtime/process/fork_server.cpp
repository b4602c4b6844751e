// fork_server.cpp — see fork_server.h.
//
// Notes
// -----
// Where a spawned worker's ~2-3 ms went (measured before this file existed,
// strace -f -T and LD_DEBUG=statistics on the 2-core VM, see the README's
// Processes section): posix_spawn's vfork+exec, then the dynamic loader
// opening, mapping and relocating 9 shared libraries (~2.8K relocations),
// static initialisation, then the worker's Interpreter (Lua's libraries, the
// gilrun modules, the GIL, the monitor page). A forked child of the server
// skips all but the last: the server already paid for the rest, once.
//
// What the server does NOT preload: a lua_State. One made before the fork
// would be copied into every child with the same string-hash seed and the
// same math.random state (every worker would draw the same "random"
// numbers, Python's old fork-and-numpy trap), and an Interpreter also owns
// threads, a GIL, clocks and a monitor page named by its pid, none of which
// survive a fork. So each child builds its own interpreter after the fork.
//
// The protocol, over a SOCK_SEQPACKET socketpair (one message per request,
// descriptors passed with SCM_RIGHTS):
//   server -> parent  'H' pid                         hello, once started
//   parent -> server  'F' n target[n] argv\0argv\0…   + fds [status_w, src[n]]
//   server -> parent  'P' pid | -errno                + fds [pidfd] on success
// The child gets src[i] as descriptor target[i] and nothing else but 0-2
// (as spawn_now() does for a spawned child). status_w is the write end of the
// status pipe: the server writes the child's wait status into it once it has
// reaped the child (SIGCHLD through a signalfd), then closes it.
//
// The server is single-threaded by construction (no code in it starts a
// thread); it checks that at start and refuses to serve otherwise, because
// fork() copies only the calling thread. It ignores SIGINT, so a Ctrl-C on
// the terminal stops the workers (they restore the default) and not the
// server, and SIGPIPE (a parent that closed a status pipe early).
#include "process/fork_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "process/child_modes.h"

namespace gilrun {
namespace {

constexpr size_t kMaxPassedFds = 250;  // one message carries at most SCM_MAX_FD (253)
constexpr size_t kMaxMessage = 1 << 16;
constexpr int kHelloTimeoutMs = 5000;

void put_i32(std::string& out, int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

int32_t get_i32(const std::string& in, size_t at) {
  int32_t v;
  std::memcpy(&v, in.data() + at, 4);
  return v;
}

void close_all(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

bool send_message(int sock, const std::string& bytes, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
  return n == static_cast<ssize_t>(bytes.size());
}

// recv_message() returns the message's size (0: end of file), or -1 on an
// error or a truncated message (whose descriptors are closed). Received
// descriptors are close-on-exec.
ssize_t recv_message(int sock, std::string* bytes, std::vector<int>* fds) {
  bytes->resize(kMaxMessage);
  iovec iov{&(*bytes)[0], bytes->size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * (kMaxPassedFds + 3)));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  fds->clear();
  if (n < 0) return -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const size_t first = fds->size();
    fds->resize(first + count);
    std::memcpy(fds->data() + first, CMSG_DATA(c), count * sizeof(int));
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    close_all(*fds);
    fds->clear();
    return -1;
  }
  bytes->resize(size_t(n));
  return n;
}

// ---- the parent's side

struct Server {
  std::unique_ptr<ChildProcess> process;
  int sock = -1;
  pid_t pid = 0;
  bool broken = false;  // could not start: spawn from now on
};

std::mutex servers_mutex;
std::map<std::string, Server>& servers() {
  static auto* by_executable = new std::map<std::string, Server>();  // never destroyed
  return *by_executable;
}

void stop_server(Server& s) {
  if (s.sock >= 0) close(s.sock);
  s.sock = -1;
  s.process.reset();  // kills and reaps it if it still runs
}

bool start_server(const std::string& executable, Server& s, std::string* error) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    *error = std::string("socketpair: ") + std::strerror(errno);
    return false;
  }
  SpawnSpec spec;
  spec.argv = {executable, kForkServerMode, std::to_string(getpid()), std::to_string(pair[1])};
  spec.fds = {{pair[1], pair[1]}};
  s.process = ChildProcess::spawn(spec, error);
  close(pair[1]);
  s.sock = pair[0];
  if (!s.process) {
    stop_server(s);
    return false;
  }
  pollfd p{s.sock, POLLIN, 0};
  int ready;
  while ((ready = poll(&p, 1, kHelloTimeoutMs)) < 0 && errno == EINTR) {}
  std::string hello;
  std::vector<int> fds;
  const bool ok = ready == 1 && recv_message(s.sock, &hello, &fds) == 5 && hello[0] == 'H' &&
                  get_i32(hello, 1) == s.process->pid() && fds.empty();
  close_all(fds);
  if (!ok) {
    *error = "the fork server did not start";
    stop_server(s);
    return false;
  }
  s.pid = s.process->pid();
  return true;
}

enum class Outcome { forked, refused, gone };

Outcome request(Server& s, const SpawnSpec& spec, std::unique_ptr<ChildProcess>* child,
                std::string* error) {
  int status[2];
  if (pipe2(status, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return Outcome::refused;
  }
  std::string message = "F";
  put_i32(message, static_cast<int32_t>(spec.fds.size()));
  std::vector<int> fds = {status[1]};
  for (const auto& [from, to] : spec.fds) {
    put_i32(message, to);
    fds.push_back(from);
  }
  for (const std::string& arg : spec.argv) message.append(arg.c_str(), arg.size() + 1);
  if (message.size() > kMaxMessage) {
    close(status[0]);
    close(status[1]);
    *error = "the fork server cannot take a command line this long";
    return Outcome::refused;
  }
  const bool sent = send_message(s.sock, message, fds);
  close(status[1]);
  std::string reply;
  std::vector<int> got;
  if (!sent || recv_message(s.sock, &reply, &got) != 5 || reply[0] != 'P') {
    close_all(got);
    close(status[0]);
    *error = "the fork server is gone";
    return Outcome::gone;
  }
  const int32_t pid = get_i32(reply, 1);
  if (pid <= 0 || got.size() != 1) {
    close_all(got);
    close(status[0]);
    *error = std::string("the fork server could not fork: ") + std::strerror(pid < 0 ? -pid : EPROTO);
    return Outcome::refused;
  }
  *child = ChildProcess::adopt(pid, got[0], status[0]);
  return Outcome::forked;
}

std::unique_ptr<ChildProcess> fork_child(const std::string& executable, const MakeSpec& make,
                                         std::string* error) {
  std::lock_guard<std::mutex> lock(servers_mutex);
  Server& s = servers()[executable];
  if (s.sock >= 0 && s.process->try_reap()) stop_server(s);  // died since: reap it now
  for (int attempt = 0; attempt < 2 && !s.broken; ++attempt) {
    if (s.sock < 0 && !start_server(executable, s, error)) {
      s.broken = true;
      return nullptr;
    }
    const SpawnSpec spec = make(s.pid);
    if (spec.env || !spec.cwd.empty() || spec.fds.size() > kMaxPassedFds) {
      *error = "the fork server cannot pass this child's environment, directory or descriptors";
      return nullptr;
    }
    std::unique_ptr<ChildProcess> child;
    switch (request(s, spec, &child, error)) {
      case Outcome::forked: return child;
      case Outcome::refused: return nullptr;
      case Outcome::gone: stop_server(s); break;  // restart it once
    }
  }
  return nullptr;
}

// ---- the server's side

int threads_in_this_process() {
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return -1;
  int n = 0;
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n;
}

void reply(int sock, int32_t pid_or_error, int pidfd) {
  std::string message = "P";
  put_i32(message, pid_or_error);
  std::vector<int> fds;
  if (pidfd >= 0) fds.push_back(pidfd);
  send_message(sock, message, fds);  // a parent that is gone shows up as end of file
}

// become_child() runs in the forked child: the signal state and descriptors
// a spawned child would have, then the requested mode.
[[noreturn]] void become_child(const std::vector<int>& targets, const std::vector<int>& got,
                               std::vector<std::string>& args, int (*child_main)(int, char**)) {
  sigset_t none;
  sigemptyset(&none);
  signal(SIGINT, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Move the sources above every target, close everything else (the
  // server's socket, signalfd and the other children's status pipes), then
  // put each source in place (dup2 clears close-on-exec).
  int base = STDERR_FILENO + 1;
  for (int t : targets) base = std::max(base, t + 1);
  std::vector<int> moved;
  for (size_t i = 1; i < got.size(); ++i) {
    const int fd = fcntl(got[i], F_DUPFD_CLOEXEC, base);
    if (fd < 0) _exit(127);
    moved.push_back(fd);
  }
  if (base > STDERR_FILENO + 1) close_range(STDERR_FILENO + 1, unsigned(base - 1), 0);
  for (size_t i = 0; i < targets.size(); ++i)
    if (dup2(moved[i], targets[i]) < 0) _exit(127);
  close_range(unsigned(base), ~0u, 0);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  std::exit(child_main(static_cast<int>(args.size()), argv.data()));
}

// handle() forks the child one request asks for and replies.
void handle(int sock, const std::string& message, std::vector<int>& got,
            std::map<pid_t, int>& status_fds, int (*child_main)(int, char**)) {
  std::vector<int> targets;
  std::vector<std::string> args;
  bool ok = message.size() >= 5 && message[0] == 'F' && message.back() == '\0';
  if (ok) {
    const int32_t n = get_i32(message, 1);
    ok = n >= 0 && size_t(n) + 1 == got.size() && message.size() > 5 + size_t(n) * 4;
    for (int32_t i = 0; ok && i < n; ++i) {
      targets.push_back(get_i32(message, 5 + size_t(i) * 4));
      ok = targets.back() >= 0;
    }
    if (ok) {
      const char* p = message.data() + 5 + size_t(n) * 4;
      const char* end = message.data() + message.size();
      for (; p < end; p += std::strlen(p) + 1) args.emplace_back(p);
    }
  }
  if (!ok || args.empty()) {
    close_all(got);
    reply(sock, -EINVAL, -1);
    return;
  }
  const pid_t pid = fork();
  if (pid == 0) become_child(targets, got, args, child_main);
  if (pid < 0) {
    const int error = errno;
    close_all(got);
    reply(sock, -error, -1);
    return;
  }
  status_fds[pid] = got[0];  // written once the child is reaped, even if the reply fails
  for (size_t i = 1; i < got.size(); ++i) close(got[i]);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int error = errno;
    kill(pid, SIGKILL);
    reply(sock, -error, -1);
    return;
  }
  reply(sock, pid, pidfd);
  close(pidfd);
}

// reap() reaps children that have ended and reports each on its status pipe.
void reap(std::map<pid_t, int>& status_fds, bool block) {
  while (!status_fds.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    const auto it = status_fds.find(pid);
    if (it == status_fds.end()) continue;
    (void)!write(it->second, &status, sizeof status);
    close(it->second);
    status_fds.erase(it);
  }
}

}  // namespace

bool parse_start_method(const std::string& name, StartMethod* method) {
  if (name == "spawn") {
    *method = StartMethod::spawn;
  } else if (name == "forkserver") {
    *method = StartMethod::forkserver;
  } else {
    return false;
  }
  return true;
}

const char* start_method_name(StartMethod method) {
  return method == StartMethod::spawn ? "spawn" : "forkserver";
}

std::size_t fork_servers() {
  std::lock_guard<std::mutex> lock(servers_mutex);
  std::size_t n = 0;
  for (const auto& entry : servers()) n += entry.second.process != nullptr;
  return n;
}

std::unique_ptr<ChildProcess> start_child(StartMethod method, const std::string& executable,
                                          const MakeSpec& make, std::string* error) {
  if (method == StartMethod::forkserver) {
    std::string why;  // falls back to spawn, whatever the reason
    if (auto child = fork_child(executable, make, &why)) return child;
  }
  return ChildProcess::spawn(make(getpid()), error);
}

int serve_forks(int argc, char** argv, int (*child_main)(int, char**)) {
  if (argc < 4) return 2;
  die_with_parent(static_cast<pid_t>(std::atoi(argv[2])));
  const int sock = std::atoi(argv[3]);
  fcntl(sock, F_SETFD, FD_CLOEXEC);
  if (threads_in_this_process() != 1) {
    // To stderr, not Options::report: this is a process of its own with no
    // host and no Options, and its stderr is the parent's. The parent loses
    // nothing but speed: without a hello it starts children by spawn
    // (start_child), so the line is the only sign of a worker_executable
    // that starts threads before it reads its command line.
    std::fprintf(stderr, "gilrun --fork-server: more than one thread, refusing to fork\n");
    return 3;
  }
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  const int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) return 3;
  std::string hello = "H";
  put_i32(hello, getpid());
  if (!send_message(sock, hello, {})) return 0;
  std::map<pid_t, int> status_fds;  // live children -> their status pipes
  while (true) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) {
      signalfd_siginfo info;
      while (read(sigfd, &info, sizeof info) == sizeof info) {}
      reap(status_fds, false);
    }
    if (fds[0].revents) {
      std::string message;
      std::vector<int> got;
      const ssize_t n = recv_message(sock, &message, &got);
      if (n == 0 || (n < 0 && (fds[0].revents & (POLLHUP | POLLERR)))) break;  // the parent is gone
      if (n > 0) {
        handle(sock, message, got, status_fds, child_main);
      } else if (n < 0) {
        reply(sock, -EINVAL, -1);  // a truncated request: the parent must not wait for ever
      }
    }
  }
  // Our parent is gone: its children go too.
  for (const auto& entry : status_fds) kill(entry.first, SIGKILL);
  reap(status_fds, true);
  return 0;
}

}  // namespace gilrun
