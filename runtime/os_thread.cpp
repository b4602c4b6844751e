// os_thread.cpp — running a Lua function on a new OS thread that shares the
// VM (spawn_thread, declared in thread_registry.h).
//
// The new thread gets its own lua_State (lua_newthread, anchored in the
// registry while it runs), takes the GIL, runs the function through the one
// protected path, leaves its results (or its error) on its stack for join(),
// and wakes its joiners before dropping the GIL for the last time.
#include <lua.hpp>
#include <pthread.h>

#include <cstring>

#include "core.h"
#include "protected_call.h"
#include "thread_registry.h"
#include "thread_state.h"

namespace gilrun {
namespace {

struct StartRequest {
  std::shared_ptr<Core> core;
  std::shared_ptr<ThreadRecord> record;
  lua_State* T;
  int anchor;  // registry reference keeping T alive while it runs
};

void run_thread(StartRequest& req) {
  Core& core = *req.core;
  ThreadRecord& record = *req.record;
  lua_State* T = req.T;
  ThreadState ts(req.core, record.id, record.name);
  ts.attach(T);
  core.gil.take(ts);
  record.state = &ts;

  const int status = protected_call(T, lua_gettop(T) - 1, LUA_MULTRET);
  if (status != LUA_OK) {
    record.failed = true;
    const RunResult failure = describe_error(T, status);
    record.error_text = failure.message;
    if (!failure.traceback.empty()) record.error_text += "\n" + failure.traceback;
  }
  luaL_unref(T, LUA_REGISTRYINDEX, req.anchor);  // the handle keeps T now
  record.anchor = LUA_NOREF;
  record.final_counters = core.gil.counters(ts);
  core.threads.finished(record);
  ts.detach();
  core.gil.drop(ts, /*exiting=*/true);
}

void* thread_entry(void* arg) {
  std::unique_ptr<StartRequest> req(static_cast<StartRequest*>(arg));
  run_thread(*req);
  return nullptr;
}

}  // namespace

std::shared_ptr<ThreadRecord> spawn_thread(lua_State* L, int first, std::string name,
                                           bool daemon, std::string* error) {
  ThreadState* caller = ThreadState::current();
  const int n = lua_gettop(L) - first + 1;  // the function and its arguments
  lua_State* T = lua_newthread(L);
  const int anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_xmove(L, T, n);

  auto record = caller->core->threads.add(std::move(name), daemon);
  record->anchor = anchor;
  auto req = std::make_unique<StartRequest>(StartRequest{caller->core, record, T, anchor});
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  const int rc = pthread_create(&tid, &attr, thread_entry, req.get());
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    *error = std::string("cannot start a new thread: ") + std::strerror(rc) +
             " (the system's limit on threads or memory was reached; join some threads first)";
    caller->core->threads.forget(*record);
    luaL_unref(L, LUA_REGISTRYINDEX, anchor);
    return nullptr;
  }
  req.release();  // thread_entry owns it now
  lua_rawgeti(L, LUA_REGISTRYINDEX, anchor);  // T, for the handle to keep
  return record;
}

}  // namespace gilrun
