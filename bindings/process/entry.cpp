// entry.cpp — the child side of the process module: worker, exec and
// fork-server modes of the gilrun binary (see gilrun/process_entry.h). A
// child forked by the fork server enters run_process_mode() the same way,
// with the argv it would have been spawned with.
//
// A worker is an ordinary Interpreter (own VM, own GIL) with the gilrun
// modules and the process queues its parent handed down. It reads a task
// frame (worker_protocol.h) with no GIL held — polling for up to
// kNextTaskSpin without sleeping first, since a pool's next task often
// follows within microseconds (pool.cpp's notes), then in a blocking
// read — runs it through the one protected call path, and writes back the
// encoded results or the encoded error (value_codec.h's encode_error: the
// error value itself when it can cross, and the traceback taken where it
// was raised). Results that cannot cross (a socket, a coroutine) come back
// as an error naming their path, e.g. "cannot copy results[1]: userdata".
#include "gilrun/process_entry.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "process/child_process.h"
#include "process/child_modes.h"
#include "process/fork_server.h"
#include "wait/fd_write.h"
#include "wait/io_wait.h"
#include "gilrun/gilrun.h"
#include "gilrun/modules.h"
#include "process/queue.h"
#include "protected_call.h"
#include "codec/value_codec.h"
#include "process/worker_protocol.h"

namespace gilrun {
namespace {

constexpr auto kNextTaskSpin = std::chrono::microseconds(50);  // see the notes

// error_frame() is the 'E' reply for an error made here, in C++.
std::string error_frame(const std::string& message) {
  std::string payload;
  if (!encode_error_message(message, "", &payload)) encode_error_message("out of memory", "", &payload);
  return make_frame('E', payload, "", false);
}

// load_task() pushes the function to run and its arguments; returns the
// argument count, or -1 with *error set.
int load_task(lua_State* L, const Frame& task, std::string* error) {
  std::string first, args;
  if (!split_parts(task.payload, &first, &args)) {
    *error = "corrupt task";
    return -1;
  }
  int count = 0;
  if (task.kind == 'T') {
    if (!decode_values(L, first.data(), first.size(), &count, error)) return -1;
    if (count != 1 || lua_type(L, -1) != LUA_TFUNCTION) {
      *error = "the task is not a function";
      return -1;
    }
  } else {
    const int status = luaL_loadfilex(L, first.c_str(), nullptr);
    if (status != LUA_OK) {
      *error = lua_tostring(L, -1);
      return -1;
    }
  }
  if (!decode_values(L, args.data(), args.size(), &count, error)) return -1;
  if (task.kind == 'S') {  // the script's `arg` table, as lua.c makes it
    lua_createtable(L, count, 1);
    lua_pushstring(L, first.c_str());
    lua_rawseti(L, -2, 0);
    for (int i = 1; i <= count; ++i) {
      lua_pushvalue(L, -1 - count - 1 + i);
      lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");
  }
  return count;
}

// run_task() runs one task frame and returns the reply frame.
std::string run_task(Interpreter& interpreter, const Frame& task) {
  std::string reply;
  interpreter.with_lua([&](lua_State* L) {
    const int top = lua_gettop(L);
    std::string error;
    const int nargs = load_task(L, task, &error);
    if (nargs < 0) {
      reply = error_frame("cannot start the task: " + error);
    } else {
      std::string traceback;
      const int status = protected_call(L, nargs, LUA_MULTRET, &traceback);
      if (status != LUA_OK) {
        std::string payload;
        if (encode_error(L, -1, traceback, &payload)) {
          reply = make_frame('E', payload, "", false);
        } else {
          reply = error_frame("out of memory");
        }
      } else {
        std::string results;
        if (encode_values(L, top + 1, lua_gettop(L) - top, "results", &results, &error)) {
          reply = make_frame('R', results, "", false);
        } else {
          reply = error_frame(error);
        }
      }
    }
    lua_settop(L, top);
  });
  return reply;
}

int run_worker(int argc, char** argv) {
  if (argc < 4) return 2;
  die_with_parent(static_cast<pid_t>(std::atoi(argv[2])));
  const int fd = std::atoi(argv[3]);
  fcntl(fd, F_SETFD, FD_CLOEXEC);  // not for the worker's own children
  adopt_queues(std::vector<std::string>(argv + 4, argv + argc));
  Options options;
  options.libraries = [](lua_State* L) {
    preload_modules(L);
    install_handle_opener(L);
  };
  Interpreter interpreter(options);
  FrameReader reader;  // fd is blocking: read() waits for a whole frame
  Frame task;
  while (true) {
    spin_until_ready(fd, POLLIN, kNextTaskSpin);
    if (reader.read(fd, &task) != FrameReader::got_frame) break;
    if (!write_blocking(fd, run_task(interpreter, task))) break;
  }
  interpreter.close();
  return 0;
}

int run_exec(int argc, char** argv) {
  if (argc < 5) return 2;
  die_with_parent(static_cast<pid_t>(std::atoi(argv[2])));
  const int status_fd = std::atoi(argv[3]);
  fcntl(status_fd, F_SETFD, FD_CLOEXEC);  // closed by a successful exec
  execvp(argv[4], argv + 4);
  const int error = errno;
  (void)!gilrun::write_nosignal(status_fd, &error, sizeof error);
  return 127;
}

}  // namespace

int run_process_mode(int argc, char** argv) {
  if (argc < 2) return -1;
  if (std::strcmp(argv[1], kProcessWorkerMode) == 0) return run_worker(argc, argv);
  if (std::strcmp(argv[1], kProcessExecMode) == 0) return run_exec(argc, argv);
  if (std::strcmp(argv[1], kForkServerMode) == 0) return serve_forks(argc, argv, run_process_mode);
  return -1;
}

}  // namespace gilrun
