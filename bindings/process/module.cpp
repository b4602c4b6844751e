// module.cpp — the `process` module: multiprocessing for Lua. Each child is
// a fresh gilrun interpreter (own VM, own GIL), so N processes use N cores.
//
//   local p = process.spawn(fn, ...)            -- fn(...) in a child
//   local p = process.spawn{script = "w.lua", args = {...} [, start = method]}
//   p:join([timeout]) --> fn's results | nil, "timeout"
//                         (raises fn's error: a string with the child's
//                         traceback appended, any other value as itself)
//   p:traceback() --> the child's traceback once join() raised fn's error, else nil
//   p:alive(), p:kill([signal = SIGKILL]) --> true | false (already gone)
//   p.pid, p.exitcode  (nil while running; -N if signal N ended it)
//   process.queue([maxsize])     queue.cpp
//   process.pool([n])            pool.cpp
//   process.run(argv [, opts])   run.cpp
//   process.cpu_count(), process.current().pid
//   process.set_start_method("forkserver" | "spawn"), process.get_start_method()
//
// Start methods (runtime/process/fork_server.h): "forkserver", the default,
// forks each child from a small single-threaded gilrun process started on
// first use (no exec, no dynamic linking: ~0.5 ms instead of ~2-3 ms);
// "spawn" runs posix_spawn of the gilrun binary for each child, and is what
// forkserver falls back to when its server cannot be used. The default can
// be set for a run with GILRUN_START_METHOD=spawn|forkserver.
//
// A spawned child is a worker (worker.h) given exactly one task:
// the parent writes the task frame, shuts down its writing side and waits
// for one reply frame, then for the exit (on the child's pidfd). Every wait
// is a wait_fd(). A child that dies without replying (os.exit, a signal) is
// reported from its exit status. A Process that is garbage-collected or
// closed with the interpreter kills (SIGKILL) and reaps its child: no
// zombies, and no orphans (die_with_parent in the child covers a parent
// killed outright).
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include "process/modules.h"
#include "process/queue.h"
#include "process/worker.h"
#include "support.h"
#include "codec/value_codec.h"

namespace gilrun {
namespace {

constexpr const char* kProcess = "gilrun.process";

struct Process {
  std::unique_ptr<Worker> worker;
  bool replied = false;  // `reply` holds the child's answer
  Frame reply;
  std::string traceback;  // of the child's error, once join() decoded it
};

Process* check_process(lua_State* L) { return check_object<Process>(L, 1, kProcess); }

// start_process() starts a worker and sends it `frame`; pushes the Process
// (returns true) or the error message (returns false).
bool start_process(lua_State* L, ThreadState& ts, StartMethod method, const std::string& frame) {
  auto* p = new_object<Process>(L, kProcess, 0);
  std::string error;
  p->worker = start_worker(L, ts, method, &error);
  if (p->worker) {
    const WaitStatus status = send_frame(ts, p->worker->fd, frame, std::nullopt, &error);
    if (status != WaitStatus::ready && error.empty()) error = "interrupted while sending the task";
    shutdown(p->worker->fd, SHUT_WR);
  }
  if (error.empty()) return true;
  lua_pushfstring(L, "process.spawn: %s", error.c_str());
  return false;
}

// script_frame() encodes spawn{script=, args=} at index 1.
bool script_frame(lua_State* L, std::string* frame, std::string* error) {
  lua_getfield(L, 1, "script");
  if (lua_type(L, -1) != LUA_TSTRING) {
    *error = "process.spawn{...}: 'script' must be a file name";
    return false;
  }
  const std::string script = lua_tostring(L, -1);
  const int top = lua_gettop(L);
  const int args_type = lua_getfield(L, 1, "args");
  int nargs = 0;
  if (args_type == LUA_TTABLE) {
    const int args = lua_gettop(L);
    nargs = static_cast<int>(lua_rawlen(L, args));
    if (!lua_checkstack(L, nargs + 8)) {
      *error = "too many args";
      return false;
    }
    for (int i = 1; i <= nargs; ++i) lua_rawgeti(L, args, i);
  } else if (args_type != LUA_TNIL) {
    *error = "process.spawn{...}: 'args' must be a list";
    return false;
  }
  std::string encoded;
  const bool ok = encode_values(L, lua_gettop(L) - nargs + 1, nargs, "args", &encoded, error);
  lua_settop(L, top);
  if (ok) *frame = make_frame('S', script, encoded, true);
  return ok;
}

int process_spawn(lua_State* L) {
  const bool script = lua_type(L, 1) == LUA_TTABLE;
  if (!script) luaL_checktype(L, 1, LUA_TFUNCTION);
  if (script) {
    lua_getfield(L, 1, "start");
  } else {
    lua_pushnil(L);
  }
  const StartMethod method = check_start_method(L, -1);
  lua_pop(L, 1);
  ThreadState& ts = current_thread(L);
  bool ok;
  {
    std::string frame, error;
    ok = script ? script_frame(L, &frame, &error)
                : task_frame(L, 1, lua_gettop(L) - 1, &frame, &error);
    if (!ok) {
      lua_pushfstring(L, "process.spawn: %s", error.c_str());
    } else {
      ok = start_process(L, ts, method, frame);
    }
  }
  if (!ok) return lua_error(L);
  return 1;
}

// await_end() waits for the reply (or end of stream), then for the exit.
WaitStatus await_end(ThreadState& ts, Process& p, const Deadline& deadline) {
  Worker& w = *p.worker;
  while (!p.replied) {
    const FrameReader::Result r = w.reader.read(w.fd, &p.reply);
    if (r == FrameReader::got_frame) {
      p.replied = true;
    } else if (r == FrameReader::need_more) {
      const WaitStatus status = wait_fd(ts, w.fd, POLLIN, deadline);
      if (status != WaitStatus::ready) return status;
    } else {
      break;  // the child is gone without a reply
    }
  }
  while (!w.child->try_reap()) {
    const WaitStatus status = wait_fd(ts, w.child->pidfd(), POLLIN, deadline);
    if (status != WaitStatus::ready) return status;
  }
  return WaitStatus::ready;
}

int process_join(lua_State* L) {
  Process* p = check_process(L);
  const auto timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  const WaitStatus status = await_end(ts, *p, deadline_after(timeout));
  if (status != WaitStatus::ready) return push_wait_result(L, status);
  int n;
  if (p->replied) {
    n = push_reply(L, p->reply, p->worker->child->pid(), &p->traceback);
  } else {
    const std::string text = exit_text(p->worker->child->exit_code());
    lua_pushfstring(L, "process %d %s before returning", static_cast<int>(p->worker->child->pid()),
                    text.c_str());
    n = -1;
  }
  if (n < 0) return lua_error(L);
  return n;
}

// process_traceback() is where a non-string error's traceback is kept (a
// string error also carries it in its text).
int process_traceback(lua_State* L) {
  Process* p = check_process(L);
  if (p->traceback.empty()) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, p->traceback.data(), p->traceback.size());
  }
  return 1;
}

int process_alive(lua_State* L) {
  lua_pushboolean(L, !check_process(L)->worker->child->try_reap());
  return 1;
}

int process_kill(lua_State* L) {
  Process* p = check_process(L);
  const int signal = static_cast<int>(luaL_optinteger(L, 2, SIGKILL));
  luaL_argcheck(L, signal > 0 && signal < NSIG, 2, "not a signal number");
  lua_pushboolean(L, p->worker->child->send_signal(signal));
  return 1;
}

int process_index(lua_State* L) {
  Process* p = check_process(L);
  const std::string_view key = luaL_checkstring(L, 2);
  ChildProcess& child = *p->worker->child;
  if (key == "pid") {
    lua_pushinteger(L, child.pid());
  } else if (key == "exitcode") {
    if (child.try_reap()) {
      lua_pushinteger(L, child.exit_code());
    } else {
      lua_pushnil(L);
    }
  } else {
    luaL_getmetatable(L, kProcess);
    lua_getfield(L, -1, key.data());
  }
  return 1;
}

int process_tostring(lua_State* L) {
  ChildProcess& child = *check_process(L)->worker->child;
  lua_pushfstring(L, "process %d (%s)", static_cast<int>(child.pid()),
                  child.try_reap() ? "finished" : "running");
  return 1;
}

int process_cpu_count(lua_State* L) {
  cpu_set_t set;
  long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? n : 1);
  return 1;
}

int process_set_start_method(lua_State* L) {
  luaL_checkany(L, 1);
  set_start_method(L, check_start_method(L, 1));
  return 0;
}

int process_get_start_method(lua_State* L) {
  lua_pushstring(L, start_method_name(check_start_method(L, 1)));
  return 1;
}

int process_current(lua_State* L) {
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, getpid());
  lua_setfield(L, -2, "pid");
  lua_pushinteger(L, getppid());
  lua_setfield(L, -2, "ppid");
  return 1;
}

}  // namespace

int luaopen_process(lua_State* L) {
  static const luaL_Reg methods[] = {{"join", process_join},
                                     {"alive", process_alive},
                                     {"kill", process_kill},
                                     {"traceback", process_traceback},
                                     {"__tostring", process_tostring},
                                     {nullptr, nullptr}};
  define_class(L, kProcess, methods, destroy_object<Process>);
  luaL_getmetatable(L, kProcess);
  lua_pushcfunction(L, process_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  install_handle_opener(L);
  static const luaL_Reg functions[] = {{"spawn", process_spawn},
                                       {"cpu_count", process_cpu_count},
                                       {"current", process_current},
                                       {"set_start_method", process_set_start_method},
                                       {"get_start_method", process_get_start_method},
                                       {nullptr, nullptr}};
  luaL_newlib(L, functions);
  add_queue_functions(L);
  add_pool_functions(L);
  add_run_functions(L);
  return 1;
}

}  // namespace gilrun
