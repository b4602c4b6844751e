// worker.cpp — see worker.h.
#include "process/worker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core.h"
#include "process/child_modes.h"
#include "process/queue.h"
#include "support.h"
#include "codec/value_codec.h"

namespace gilrun {

Worker::~Worker() {
  if (fd >= 0) close(fd);
}

std::unique_ptr<Worker> start_worker(lua_State* L, ThreadState& ts, StartMethod method,
                                     std::string* error) {
  const std::string executable = child_executable(L);
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    *error = std::string("socketpair: ") + std::strerror(errno);
    return nullptr;
  }
  auto worker = std::make_unique<Worker>();
  worker->fd = fds[0];
  const SharedQueues queues = shared_queues();
  const MakeSpec make = [&](pid_t parent) {
    SpawnSpec spec;
    spec.argv = {executable, kProcessWorkerMode, std::to_string(parent), std::to_string(fds[1])};
    spec.argv.insert(spec.argv.end(), queues.tokens.begin(), queues.tokens.end());
    spec.fds.emplace_back(fds[1], fds[1]);
    for (int fd : queues.fds) spec.fds.emplace_back(fd, fd);
    return spec;
  };
  with_gil_released(ts, [&] { worker->child = start_child(method, executable, make, error); });
  close(fds[1]);
  if (!worker->child) return nullptr;
  fcntl(worker->fd, F_SETFL, fcntl(worker->fd, F_GETFL) | O_NONBLOCK);
  return worker;
}

namespace {
constexpr const char* kStartMethodKey = "gilrun.process.start_method";
}  // namespace

bool start_method_of(lua_State* L, StartMethod* method, std::string* error) {
  lua_getfield(L, LUA_REGISTRYINDEX, kStartMethodKey);
  const char* set = lua_tostring(L, -1);
  const bool chosen = set && parse_start_method(set, method);
  lua_pop(L, 1);
  if (chosen) return true;
  const char* env = std::getenv("GILRUN_START_METHOD");
  if (!env || !*env) {
    *method = StartMethod::forkserver;
    return true;
  }
  if (parse_start_method(env, method)) return true;
  *error = std::string("GILRUN_START_METHOD is '") + env + "': it must be 'spawn' or 'forkserver'";
  return false;
}

StartMethod check_start_method(lua_State* L, int index) {
  StartMethod method = StartMethod::forkserver;
  if (lua_isnoneornil(L, index)) {
    bool ok;
    {
      std::string error;
      ok = start_method_of(L, &method, &error);
      if (!ok) lua_pushstring(L, error.c_str());
    }
    if (!ok) lua_error(L);
    return method;
  }
  if (lua_type(L, index) != LUA_TSTRING) {
    luaL_error(L, "start method must be 'spawn' or 'forkserver', not a %s",
               luaL_typename(L, index));
  } else if (!parse_start_method(lua_tostring(L, index), &method)) {
    luaL_error(L, "start method must be 'spawn' or 'forkserver', not '%s'",
               lua_tostring(L, index));
  }
  return method;
}

void set_start_method(lua_State* L, StartMethod method) {
  lua_pushstring(L, start_method_name(method));
  lua_setfield(L, LUA_REGISTRYINDEX, kStartMethodKey);
}

bool task_frame(lua_State* L, int fn, int nargs, std::string* frame, std::string* error) {
  std::string function, args;
  if (!encode_values(L, fn, 1, "function", &function, error) ||
      !encode_values(L, fn + 1, nargs, "args", &args, error))
    return false;
  *frame = make_frame('T', function, args, true);
  return true;
}

std::string exit_text(int exit_code) {
  if (exit_code < 0) return "was killed by " + signal_name(-exit_code);
  return "exited with status " + std::to_string(exit_code);
}

int push_reply(lua_State* L, const Frame& reply, pid_t pid, std::string* traceback) {
  traceback->clear();
  std::string message, error;
  if (reply.kind == 'R') {
    int count = 0;
    if (decode_values(L, reply.payload.data(), reply.payload.size(), &count, &error)) return count;
    message = "cannot receive the results of process " + std::to_string(pid) + ": " + error;
  } else if (reply.kind == 'E') {
    const std::string origin = "child process " + std::to_string(pid) + " ";
    if (decode_error(L, reply.payload.data(), reply.payload.size(), origin, traceback, &error))
      return -1;
    message = "cannot receive the error of process " + std::to_string(pid) + ": " + error;
  } else {
    message = "process " + std::to_string(pid) + " sent a corrupt reply";
  }
  lua_pushlstring(L, message.data(), message.size());
  return -1;
}

}  // namespace gilrun
