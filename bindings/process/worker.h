// worker.h — the parent's side of one gilrun worker process: start
// it, send it a task, turn its reply into Lua values. Shared by
// process.spawn (one task, then the worker exits) and process.pool (task
// after task). This file is private to the bindings.
#pragma once

#include <lua.hpp>

#include <memory>
#include <string>

#include "process/child_process.h"
#include "process/fork_server.h"
#include "process/worker_protocol.h"

namespace gilrun {

struct Worker {
  Worker() = default;
  ~Worker();  // closes the socket; ~ChildProcess kills and reaps
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  std::unique_ptr<ChildProcess> child;
  int fd = -1;  // our end of the socket, non-blocking
  FrameReader reader;
};

// start_worker() starts `gilrun --process-worker` by `method` (GIL released
// while it starts), handing it every live process queue. Null with *error
// on failure.
std::unique_ptr<Worker> start_worker(lua_State* L, ThreadState& ts, StartMethod method,
                                     std::string* error);

// start_method_of() is the method a spawn or pool without an explicit
// `start` uses: process.set_start_method()'s, else $GILRUN_START_METHOD's,
// else forkserver. False with *error if the variable names no method.
bool start_method_of(lua_State* L, StartMethod* method, std::string* error);

// check_start_method() reads a `start` option at `index` (nil: the default),
// raising a clear error for anything else.
StartMethod check_start_method(lua_State* L, int index);

// set_start_method() sets this VM's default (process.set_start_method).
void set_start_method(lua_State* L, StartMethod method);

// task_frame() encodes fn + the `nargs` values after it (at `fn`) as a task
// frame; false with *error ("cannot copy args[2].conn: userdata").
bool task_frame(lua_State* L, int fn, int nargs, std::string* frame, std::string* error);

// exit_text() says how a child ended: "exited with status 3", "was killed
// by SIGKILL".
std::string exit_text(int exit_code);

// push_reply() pushes a worker's reply: the results of an 'R' frame
// (returns their count), or for an 'E' frame (or an undecodable reply) the
// error to raise, returning -1: the caller raises it once its C++ objects
// are gone. The error is the child's error value (decode_error: a string
// error has "child process <pid> stack traceback: ..." appended); *traceback
// gets the child's traceback ("" if there is none), for :traceback().
int push_reply(lua_State* L, const Frame& reply, pid_t pid, std::string* traceback);

}  // namespace gilrun
