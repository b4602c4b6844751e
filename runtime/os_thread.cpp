// os_thread.cpp — running a Lua function on a new OS thread (os_thread.h).
//
// Shared VM (every policy but isolated): the run's lifecycle is
// run_record.h's — the new thread gets its own lua_State (new_run_thread),
// takes the GIL, runs the function through the one protected path, leaves
// its results (or its error) on its stack for join(), and ends the run
// (end_run wakes its joiners) before dropping the GIL for the last time.
//
// Isolated (PEP 684's per-interpreter GIL): the function and its arguments
// are encoded (value_codec.h) in the spawning VM, and the new thread runs
// them in an Interpreter of its own — its own lua_State and its own GIL, so
// isolated threads run truly in parallel. Its results — or its error, as
// value_codec.h's encode_error() makes it for child processes too — come back
// encoded; the thread takes the spawner's GIL only to publish them.
//
// Either way a failed thread's error_text ends with the traceback taken where
// the error was raised, for a table error too (protected_call keeps it):
// the handle's :traceback() reads it there.
#include <lua.hpp>
#include <pthread.h>

#include <cstring>

#include "os_thread.h"

#include "codec/value_codec.h"
#include "core.h"
#include "green/hub.h"
#include "protected_call.h"
#include "run_record.h"
#include "thread_state.h"

namespace gilrun {
namespace {

struct StartRequest {
  std::shared_ptr<Core> core;
  std::shared_ptr<ThreadRecord> record;
  lua_State* T;  // anchored by record->anchor while it runs
};

void run_thread(StartRequest& req) {
  Core& core = *req.core;
  ThreadRecord& record = *req.record;
  lua_State* T = req.T;
  ThreadState ts(req.core, record.id, record.name);
  ts.attach(T);
  core.gil->take(ts);
  record.state = &ts;

  std::string traceback;  // of a non-string error
  const int status = protected_call(T, lua_gettop(T) - 1, LUA_MULTRET, &traceback);
  drain_green_threads(ts);  // its green threads end with it
  // Free the hub (and its fibers' stacks) before a joiner can run on: from
  // ~ThreadState, after the last drop, a joiner could see the thread done
  // with its fiber stacks still in use (the Lua fixture's leak check saw
  // it, about 1 run in 8).
  destroy_hub(ts);
  if (status != LUA_OK) fail_run(record, T, status, std::move(traceback));
  record.final_counters = core.gil->counters(ts);
  end_run(record, T);
  core.threads.finished(record);
  ts.detach();
  core.gil->drop(ts, /*exiting=*/true);
}

void* thread_entry(void* arg) {
  std::unique_ptr<StartRequest> req(static_cast<StartRequest*>(arg));
  run_thread(*req);
  return nullptr;
}

struct IsolatedStart {
  std::shared_ptr<Core> core;  // the spawner's
  std::shared_ptr<ThreadRecord> record;
  std::string function;  // encoded
  std::string args;      // encoded
};

// run_in_own_vm() runs the encoded call in a fresh Interpreter; returns
// false with the error text if it failed, and the encoded error if the call
// raised one.
bool run_in_own_vm(const IsolatedStart& req, std::string* results, std::string* error,
                   std::string* encoded_error, GilCounters* counters) {
  Options options = req.core->options;
  options.handle_sigint = false;
  options.record_trace = false;
  Interpreter vm(options);
  bool ok = false;
  vm.with_lua([&](lua_State* L) {
    int nfunction = 0;
    int nargs = 0;
    if (!decode_values(L, req.function.data(), req.function.size(), &nfunction, error) ||
        !decode_values(L, req.args.data(), req.args.size(), &nargs, error)) {
      lua_settop(L, 0);
      return;
    }
    std::string traceback;  // of a non-string error
    const int status = protected_call(L, nargs, LUA_MULTRET, &traceback);
    if (status != LUA_OK) {
      encode_error(L, -1, traceback, encoded_error);
      RunResult r = describe_error(L, status);
      if (r.traceback.empty()) r.traceback = std::move(traceback);
      *error = r.text();
    } else {
      ok = encode_values(L, 1, lua_gettop(L), "results", results, error);
    }
    lua_settop(L, 0);
  });
  // The whole lock's counters of the thread's own VM: every field, the
  // futile wakeups, the longest wait and the wait histogram included.
  *counters = core_of(vm.lua()).gil->totals();
  vm.close();
  return ok;
}

void run_isolated(IsolatedStart& req) {
  ThreadRecord& record = *req.record;
  std::string results;
  std::string error;
  std::string encoded_error;
  GilCounters counters;
  bool ok = false;
  try {
    ok = run_in_own_vm(req, &results, &error, &encoded_error, &counters);
  } catch (const std::exception& e) {  // e.g. no memory for a new VM
    error = std::string("cannot start the thread's VM: ") + e.what();
  }
  // A failed thread's encoded_results hold its encoded error (join() raises
  // it through decode_error); one the VM did not raise is a plain message.
  if (!ok) {
    if (encoded_error.empty()) encode_error_message(error, "", &encoded_error);
    results = std::move(encoded_error);
  }
  // Publish in the spawner's VM, under its GIL.
  ThreadState ts(req.core, record.id, record.name);
  ts.attach(nullptr);
  ts.gil().take(ts);
  record.failed = !ok;
  record.error_text = std::move(error);
  record.encoded_results = std::move(results);
  record.final_counters = counters;
  end_run(record, nullptr);  // never anchored
  req.core->threads.finished(record);
  ts.detach();
  ts.gil().drop(ts, /*exiting=*/true);
}

void* isolated_entry(void* arg) {
  std::unique_ptr<IsolatedStart> req(static_cast<IsolatedStart*>(arg));
  run_isolated(*req);
  return nullptr;
}

// start_thread() starts a detached OS thread running entry(arg), which then
// owns `arg`, with a stack of `stack_size` bytes (0: the system's default);
// returns 0 or an errno value (and `arg` is the caller's again). The caller's
// GIL is released around pthread_create(), a system call of ~20 us here
// (mmap, mprotect, clone): a thread started earlier runs its Lua meanwhile
// instead of queueing for the spawner's GIL, so a loop that starts 10,000
// threads is not 10,000 serial (create + first tenure)s, and the spawner is
// not preempted and sent behind a line of starting threads. No lua_State is
// touched while it is released (the caller pushes what it needs first).
int start_thread(ThreadState& caller, void* (*entry)(void*), void* arg, size_t stack_size) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = stack_size != 0 ? pthread_attr_setstacksize(&attr, stack_size) : 0;
  if (rc == 0) {
    with_gil_released(caller, [&] {
      pthread_t tid;
      rc = pthread_create(&tid, &attr, entry, arg);
    });
  }
  pthread_attr_destroy(&attr);
  return rc;
}

// push_cannot_start() pushes why pthread_create() failed with `rc`.
void push_cannot_start(lua_State* L, int rc) {
  lua_pushfstring(L, "cannot start a new thread: %s (the system's limit on threads or memory "
                     "was reached; join some threads first)",
                  std::strerror(rc));
}

std::shared_ptr<ThreadRecord> spawn_isolated(lua_State* L, int first, const char* name,
                                             bool daemon) {
  ThreadState* caller = ThreadState::current();
  auto req = std::make_unique<IsolatedStart>();
  const int nargs = lua_gettop(L) - first;
  std::string error;
  if (!encode_values(L, first, 1, "function", &req->function, &error) ||
      !encode_values(L, first + 1, nargs, "args", &req->args, &error)) {
    lua_settop(L, first - 1);
    lua_pushstring(L, error.c_str());
    return nullptr;
  }
  lua_settop(L, first - 1);
  req->core = caller->core;
  req->record = caller->core->threads.add(name ? name : "", daemon);
  req->record->isolated = true;
  auto record = req->record;
  IsolatedStart* started = req.release();  // isolated_entry owns it once it starts
  const int rc = start_thread(*caller, isolated_entry, started, caller->core->threads.stack_size());
  if (rc != 0) {
    req.reset(started);
    caller->core->threads.forget(*record);
    push_cannot_start(L, rc);
    return nullptr;
  }
  lua_pushnil(L);  // no shared lua_State to anchor
  return record;
}

}  // namespace

std::shared_ptr<ThreadRecord> spawn_thread(lua_State* L, int first, const char* name,
                                           bool daemon) {
  ThreadState* caller = ThreadState::current();
  if (caller->core->gil_settings.policy == GilPolicy::isolated) {
    return spawn_isolated(L, first, name, daemon);
  }
  int anchor;
  lua_State* T = new_run_thread(L, first, 0, &anchor);  // may raise: nothing of ours is alive
  if (T == nullptr) {
    lua_settop(L, first - 1);
    lua_pushliteral(L, "cannot start a new thread: out of memory");
    return nullptr;
  }
  auto record = caller->core->threads.add(name ? name : "", daemon);
  record->anchor = anchor;
  // T, for the handle to keep, pushed while it is anchored: once the GIL is
  // released in start_thread(), the thread may run to its end (and let the
  // anchor go) before this one has the GIL back.
  push_run_thread(L, *record);
  auto req = std::make_unique<StartRequest>(StartRequest{caller->core, record, T});
  StartRequest* started = req.release();  // thread_entry owns it once it starts
  const int rc = start_thread(*caller, thread_entry, started, caller->core->threads.stack_size());
  if (rc != 0) {
    req.reset(started);
    lua_pop(L, 1);  // T
    caller->core->threads.forget(*record);
    release_run_thread(L, &record->anchor);
    push_cannot_start(L, rc);
    return nullptr;
  }
  return record;
}

}  // namespace gilrun
