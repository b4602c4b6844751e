// run.cpp — process.run: run an external command and capture its
// output (Python's subprocess.run).
//
//   process.run(argv [, {stdin=, cwd=, env=, timeout=, shell=}])
//     --> {code=, signal=, stdout=, stderr=}
//       | nil, "timeout", {stdout=, stderr=}   (the command was killed)
//   argv is a list {"prog", "arg", ...} (prog searched in PATH); a string
//   is a shell command and needs shell = true. stdin: a string to feed
//   (default: /dev/null). env: {NAME = value} replaces the environment.
//   code: the exit status (nil if a signal ended it); signal: the signal
//   number (nil if it exited).
//
// The command starts through `gilrun --process-exec` (gilrun/process_entry.h), so it
// dies with gilrun. Whether the exec itself worked comes back over a
// close-on-exec status pipe: end of file means the exec happened; 4 bytes
// are the errno of a failed exec, raised here ("cannot run 'nosuch': No such
// file or directory") instead of a mysterious exit status 127.
//
// One FdGroup waits for stdout, stderr, room in stdin and the child's pidfd
// at once (GIL released); Ctrl-C or the timeout kills the command (SIGKILL)
// and reaps it before returning. stdin is a socketpair rather than a pipe so
// that writes can use MSG_NOSIGNAL: a command that does not read its input
// must not SIGPIPE gilrun.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "process/child_process.h"
#include "process/child_modes.h"
#include "wait/fd_group.h"
#include "process/modules.h"
#include "support.h"

namespace gilrun {
namespace {

struct RunSpec {
  std::vector<std::string> argv;
  std::optional<std::vector<std::string>> env;
  std::optional<std::string> input;
  std::string cwd;
  std::optional<double> timeout;
};

struct RunOutcome {
  std::string error;  // could not run it (raised)
  WaitStatus status = WaitStatus::ready;
  int exit_code = 0;
  std::string out, err;
};

// Fd closes a descriptor when it goes.
struct Fd {
  int fd = -1;
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

bool make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.fd = fds[0];
  write_end.fd = fds[1];
  return true;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// ---- reading the arguments (no C++ objects alive when an error is raised:
// parse_spec returns the message instead)

const char* parse_argv(lua_State* L, RunSpec& spec, bool shell) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    if (!shell) return "process.run: a command string needs shell = true (or pass an argv list)";
    spec.argv = {"/bin/sh", "-c", lua_tostring(L, 1)};
    return nullptr;
  }
  if (lua_type(L, 1) != LUA_TTABLE) return "process.run: argv must be a list of strings";
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, 1));
  if (n == 0) return "process.run: argv is empty";
  for (lua_Integer i = 1; i <= n; ++i) {
    const int type = lua_rawgeti(L, 1, i);
    if (type != LUA_TSTRING && type != LUA_TNUMBER) {
      lua_pop(L, 1);
      return "process.run: argv must be a list of strings";
    }
    size_t len = 0;
    const char* arg = lua_tolstring(L, -1, &len);
    if (std::strlen(arg) != len) {
      lua_pop(L, 1);
      return "process.run: an argv string contains a NUL byte (the command would see it cut)";
    }
    spec.argv.emplace_back(arg, len);
    lua_pop(L, 1);
  }
  return nullptr;
}

// unknown_option() pushes a message naming the first key of the options
// table that process.run does not know (a typo like `tiemout` must not be
// silently ignored), and returns it; null if all keys are known.
const char* unknown_option(lua_State* L) {
  static const char* const kKnown[] = {"stdin", "cwd", "env", "timeout", "shell"};
  lua_pushnil(L);
  while (lua_next(L, 2) != 0) {
    lua_pop(L, 1);  // the value
    const char* key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
    const bool known = key != nullptr && std::any_of(std::begin(kKnown), std::end(kKnown),
                                                     [key](const char* k) { return std::strcmp(k, key) == 0; });
    if (!known) {
      const char* shown = key != nullptr ? key : luaL_typename(L, -1);
      const char* message = lua_pushfstring(
          L, "process.run: unknown option '%s' (the options are stdin, cwd, env, timeout, shell)",
          shown);
      lua_remove(L, -2);  // the key; the message stays on the stack
      return message;
    }
  }
  return nullptr;
}

const char* parse_env(lua_State* L, int t, RunSpec& spec) {
  spec.env.emplace();
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING ||
        (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)) {
      lua_pop(L, 2);
      return "process.run: env must map names to strings";
    }
    lua_pushvalue(L, -2);  // tostring on a copy: lua_next needs the key as it is
    size_t name_len = 0, value_len = 0;
    const char* name = lua_tolstring(L, -1, &name_len);
    const char* value = lua_tolstring(L, -2, &value_len);
    if (std::strlen(name) != name_len || std::strlen(value) != value_len ||
        std::strchr(name, '=') != nullptr) {
      lua_pop(L, 3);
      return "process.run: env names and values must not contain NUL (nor names '=')";
    }
    std::string entry = name;
    entry.append("=").append(value);
    spec.env->push_back(std::move(entry));
    lua_pop(L, 2);
  }
  return nullptr;
}

const char* parse_spec(lua_State* L, RunSpec& spec) {
  const bool has_opts = lua_type(L, 2) == LUA_TTABLE;
  if (!has_opts && !lua_isnoneornil(L, 2)) return "process.run: options must be a table";
  bool shell = false;
  if (has_opts) {
    lua_getfield(L, 2, "shell");
    shell = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (const char* e = parse_argv(L, spec, shell)) return e;
  if (!has_opts) return nullptr;
  if (const char* e = unknown_option(L)) return e;
  const char* problem = nullptr;
  if (lua_getfield(L, 2, "stdin") == LUA_TSTRING) {
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    spec.input.emplace(s, len);
  } else if (!lua_isnil(L, -1)) {
    problem = "process.run: stdin must be a string";
  }
  lua_pop(L, 1);
  if (!problem && lua_getfield(L, 2, "cwd") == LUA_TSTRING) {
    size_t len = 0;
    const char* cwd = lua_tolstring(L, -1, &len);
    spec.cwd.assign(cwd, len);
    if (std::strlen(cwd) != len) problem = "process.run: cwd contains a NUL byte";
  } else if (!problem && !lua_isnil(L, -1)) {
    problem = "process.run: cwd must be a string";
  }
  lua_pop(L, 1);
  if (!problem && lua_getfield(L, 2, "timeout") == LUA_TNUMBER) {
    spec.timeout = lua_tonumber(L, -1);
    if (!(*spec.timeout >= 0)) problem = "process.run: timeout must be a non-negative number";
  } else if (!problem && !lua_isnil(L, -1)) {
    problem = "process.run: timeout must be a number of seconds";
  }
  lua_pop(L, 1);
  const int env_type = problem ? LUA_TNIL : lua_getfield(L, 2, "env");
  if (env_type == LUA_TTABLE) {
    problem = parse_env(L, lua_gettop(L), spec);
  } else if (env_type != LUA_TNIL) {
    problem = "process.run: env must be a table";
  }
  if (!problem) lua_pop(L, 1);
  return problem;
}

// ---- running

enum Tag : uint64_t { kStdout, kStderr, kStdin, kExit };

// drain() reads what `fd` has; closes it at end of file.
void drain(Fd& fd, std::string& into, FdGroup& group) {
  char buffer[65536];
  while (fd.fd >= 0) {
    const ssize_t n = read(fd.fd, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, size_t(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      group.remove(fd.fd);
      fd.reset();
    }
  }
}

void feed(Fd& fd, const std::string& input, size_t& fed, FdGroup& group) {
  while (fd.fd >= 0 && fed < input.size()) {
    const ssize_t w = send(fd.fd, input.data() + fed, input.size() - fed, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      fed += size_t(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      break;  // the command closed its stdin: the rest is dropped, as in Python
    }
  }
  if (fd.fd >= 0) {
    group.remove(fd.fd);
    fd.reset();
  }
}

// exec_failure() reads the trampoline's status pipe: 0 if the exec worked.
int exec_failure(ThreadState& ts, int status_fd) {
  int error = 0;
  while (true) {
    const ssize_t n = read(status_fd, &error, sizeof error);
    if (n >= 0 || errno != EAGAIN) return n == sizeof error ? error : 0;
    if (wait_fd(ts, status_fd, POLLIN, std::nullopt) != WaitStatus::ready) return 0;
  }
}

void run_command(lua_State* L, ThreadState& ts, const RunSpec& spec, RunOutcome& outcome) {
  const std::string exe = child_executable(L);
  Fd in_child, in_parent, out_r, out_w, err_r, err_w, status_r, status_w;
  int in_pair[2] = {-1, -1};
  const bool made = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) == 0;
  in_child.fd = in_pair[0];
  in_parent.fd = in_pair[1];
  if (!made || !make_pipe(out_r, out_w) || !make_pipe(err_r, err_w) ||
      !make_pipe(status_r, status_w)) {
    outcome.error = std::string("process.run: ") + std::strerror(errno);
    return;
  }
  if (!spec.input) {  // nothing to feed: the command reads end of file
    shutdown(in_parent.fd, SHUT_WR);
    in_parent.reset();
  }
  SpawnSpec s;
  s.argv = {exe, kProcessExecMode, std::to_string(getpid()),
            std::to_string(status_w.fd)};
  s.argv.insert(s.argv.end(), spec.argv.begin(), spec.argv.end());
  s.env = spec.env;
  s.cwd = spec.cwd;
  s.fds = {{status_w.fd, status_w.fd}, {in_child.fd, 0}, {out_w.fd, 1}, {err_w.fd, 2}};
  std::unique_ptr<ChildProcess> child;
  std::string error;
  with_gil_released(ts, [&] { child = ChildProcess::spawn(s, &error); });
  in_child.reset();
  out_w.reset();
  err_w.reset();
  status_w.reset();
  if (!child) {
    outcome.error = "process.run: " + error;
    return;
  }
  if (const int failure = exec_failure(ts, status_r.fd)) {
    with_gil_released(ts, [&] { child->reap(); });
    outcome.error = "process.run: cannot run '" + spec.argv[0] + "': " + std::strerror(failure);
    return;
  }
  FdGroup group;
  for (Fd* fd : {&in_parent, &out_r, &err_r})
    if (fd->fd >= 0) set_nonblocking(fd->fd);
  group.add(out_r.fd, EPOLLIN, kStdout);
  group.add(err_r.fd, EPOLLIN, kStderr);
  if (in_parent.fd >= 0) group.add(in_parent.fd, EPOLLOUT, kStdin);
  group.add(child->pidfd(), EPOLLIN, kExit);
  const Deadline deadline = deadline_after(spec.timeout);
  size_t fed = 0;
  std::vector<uint64_t> ready;
  while (out_r.fd >= 0 || err_r.fd >= 0 || !child->reaped()) {
    outcome.status = group.wait(ts, deadline, &ready);
    if (outcome.status != WaitStatus::ready) break;
    for (uint64_t tag : ready) {
      if (tag == kStdout) drain(out_r, outcome.out, group);
      if (tag == kStderr) drain(err_r, outcome.err, group);
      if (tag == kStdin) feed(in_parent, *spec.input, fed, group);
      if (tag == kExit && child->try_reap()) group.remove(child->pidfd());
    }
  }
  if (outcome.status != WaitStatus::ready) {
    child->send_signal(SIGKILL);
    with_gil_released(ts, [&] { child->reap(); });
    drain(out_r, outcome.out, group);
    drain(err_r, outcome.err, group);
  }
  outcome.exit_code = child->exit_code();
}

void set_string(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

int process_run(lua_State* L) {
  ThreadState& ts = current_thread(L);
  int results = 0;  // < 0: raise the message on the top; -2: Ctrl-C
  {
    RunSpec spec;
    RunOutcome outcome;
    if (const char* problem = parse_spec(L, spec)) {
      lua_pushstring(L, problem);
      results = -1;
    } else {
      run_command(L, ts, spec, outcome);
    }
    if (results == 0 && !outcome.error.empty()) {
      lua_pushstring(L, outcome.error.c_str());
      results = -1;
    } else if (results == 0 && outcome.status == WaitStatus::interrupted) {
      results = -2;
    } else if (results == 0) {
      const bool timed_out = outcome.status == WaitStatus::timed_out;
      if (timed_out) {
        lua_pushnil(L);
        lua_pushstring(L, "timeout");
      }
      lua_createtable(L, 0, 4);
      if (!timed_out && outcome.exit_code >= 0) {
        lua_pushinteger(L, outcome.exit_code);
        lua_setfield(L, -2, "code");
      } else if (!timed_out) {
        lua_pushinteger(L, -outcome.exit_code);
        lua_setfield(L, -2, "signal");
      }
      set_string(L, "stdout", outcome.out);
      set_string(L, "stderr", outcome.err);
      results = timed_out ? 3 : 1;
    }
  }
  if (results == -2) raise_interrupted(L);
  if (results < 0) return lua_error(L);
  return results;
}

}  // namespace

void add_run_functions(lua_State* L) {
  lua_pushcfunction(L, process_run);
  lua_setfield(L, -2, "run");
}

}  // namespace gilrun
