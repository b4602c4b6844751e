// thread.cpp — the `thread` module: OS threads that share the VM.
//
//   local h = thread.spawn(fn, ...)            -- or thread.spawn{fn, ..., name=, daemon=}
//   h:join([timeout]) --> fn's results | nil, "timeout" (raises fn's error)
//   h:traceback() --> the traceback of fn's error once it failed, else nil
//   h:alive(), h.name, h.id, h.daemon
//   thread.current(), thread.count()
//   thread.stack_size([bytes]) --> the previous size (0: the system's default)
#include <memory>
#include <string>
#include <string_view>

#include "core.h"
#include "os_thread.h"
#include "support.h"
#include "codec/value_codec.h"

namespace gilrun {
namespace {

constexpr const char* kHandle = "gilrun.thread";

// A handle's user value 1 is the thread's lua_State, which keeps its results
// (run_record.h). `record` is null only in a handle whose spawn failed.
struct ThreadHandle {
  std::shared_ptr<ThreadRecord> record;
};

ThreadHandle* check_handle(lua_State* L) { return check_object<ThreadHandle>(L, 1, kHandle); }

void push_handle(lua_State* L, std::shared_ptr<ThreadRecord> record) {
  new_object<ThreadHandle>(L, kHandle, 1, ThreadHandle{std::move(record)});
}

int thread_spawn(lua_State* L) {
  current_thread(L);
  const char* name = nullptr;
  bool daemon = false;
  int first = 1;
  // spawn{fn, args..., name=, daemon=}; a callable table is a function.
  if (lua_type(L, 1) == LUA_TTABLE && !is_callable(L, 1)) {
    if (lua_getfield(L, 1, "name") != LUA_TNIL && lua_type(L, -1) != LUA_TSTRING) {
      return luaL_error(L, "thread.spawn: name must be a string, not a %s", luaL_typename(L, -1));
    }
    name = lua_tostring(L, -1);  // anchored by the table
    lua_getfield(L, 1, "daemon");
    daemon = lua_toboolean(L, -1);
    lua_pop(L, 2);
    const lua_Integer n = luaL_len(L, 1);
    luaL_checkstack(L, static_cast<int>(n) + 1, "too many arguments");  // + the handle
    for (lua_Integer i = 1; i <= n; ++i) lua_rawgeti(L, 1, i);
    first = 2;
    if (!is_callable(L, first)) {
      return luaL_error(L, "thread.spawn: the table's first item must be the function to run "
                           "(thread.spawn{fn, args..., name=, daemon=}); got %s",
                        lua_isnone(L, first) ? "nothing" : luaL_typename(L, first));
    }
  }
  if (!is_callable(L, first)) luaL_typeerror(L, first, "function");
  // The handle first: making it may raise (out of memory) while nothing has
  // started; spawn_thread() then raises nothing once the thread runs.
  auto* h = new_object<ThreadHandle>(L, kHandle, 1);
  lua_insert(L, first);
  h->record = spawn_thread(L, first + 1, name, daemon);  // pushes T, or the error
  if (!h->record) return lua_error(L);
  lua_setiuservalue(L, first, 1);
  return 1;
}

// push_copied_results() returns an isolated thread's results, decoded into
// the joiner's VM, or raises its error: a failed thread's encoded_results
// hold the error as encode_error() made it (os_thread.cpp), decoded here the
// way process.spawn's are (a table arrives as itself, a string with the
// thread's traceback).
int push_copied_results(lua_State* L, const ThreadRecord& record) {
  int count = 0;
  bool decoded;
  {
    std::string error, traceback;
    const std::string& bytes = record.encoded_results;
    decoded = record.failed
                  ? decode_error(L, bytes.data(), bytes.size(), "", &traceback, &error)
                  : decode_values(L, bytes.data(), bytes.size(), &count, &error);
    if (!decoded) lua_pushstring(L, error.c_str());
  }
  if (record.failed || !decoded) return lua_error(L);
  return count;
}

int thread_join(lua_State* L) {
  ThreadHandle* h = check_handle(L);
  const auto timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  ThreadRecord& record = *h->record;
  if (record.state == &ts) return luaL_error(L, "a thread cannot join itself");
  const WaitStatus status = join_run(ts, record, deadline_after(timeout));
  if (status != WaitStatus::ready) return push_wait_result(L, status);
  if (record.isolated) return push_copied_results(L, record);
  return push_results(L, 1, record);
}

// thread_traceback() gives the traceback kept in a failed thread's
// error_text (os_thread.cpp: there for table errors too), under any policy.
int thread_traceback(lua_State* L) {
  const ThreadRecord& record = *check_handle(L)->record;
  const size_t at = record.done && record.failed ? record.error_text.find("\nstack traceback:")
                                                 : std::string::npos;
  if (at == std::string::npos) {
    lua_pushnil(L);
  } else {
    lua_pushstring(L, record.error_text.c_str() + at + 1);
  }
  return 1;
}

int thread_alive(lua_State* L) {
  lua_pushboolean(L, !check_handle(L)->record->done);
  return 1;
}

int thread_index(lua_State* L) {
  ThreadRecord& record = *check_handle(L)->record;
  const char* key = luaL_checkstring(L, 2);
  if (std::string_view(key) == "name") {
    lua_pushstring(L, record.name.c_str());
  } else if (std::string_view(key) == "id") {
    lua_pushinteger(L, static_cast<lua_Integer>(record.id));
  } else if (std::string_view(key) == "daemon") {
    lua_pushboolean(L, record.daemon);
  } else {
    luaL_getmetatable(L, kHandle);
    lua_getfield(L, -1, key);
  }
  return 1;
}

int thread_tostring(lua_State* L) {
  ThreadRecord& record = *check_handle(L)->record;
  lua_pushfstring(L, "thread '%s' (#%d, %s)", record.name.c_str(), static_cast<int>(record.id),
                  record.done ? "finished" : "running");
  return 1;
}

int thread_eq(lua_State* L) {
  lua_pushboolean(L, check_handle(L)->record == check_object<ThreadHandle>(L, 2, kHandle)->record);
  return 1;
}

int thread_gc(lua_State* L) {
  auto* h = static_cast<ThreadHandle*>(lua_touserdata(L, 1));
  if (h->record && h->record->done) report_unjoined_failure(core_of(L), *h->record);
  h->~ThreadHandle();
  return 0;
}

int thread_current(lua_State* L) {
  ThreadState& ts = current_thread(L);
  for (const auto& record : ts.core->threads.running()) {
    if (record->state == &ts) {
      push_handle(L, record);
      if (push_run_thread(L, *record)) lua_setiuservalue(L, -2, 1);  // for join()
      return 1;
    }
  }
  return luaL_error(L, "the current thread is not registered");
}

int thread_count(lua_State* L) {
  lua_pushinteger(L, current_thread(L).core->threads.alive());
  return 1;
}

// thread_stack_size() reads, or sets, the stack size of threads spawned from
// now on (Python's threading.stack_size): 0 for the system's default, or at
// least ThreadRegistry::kMinStackSize bytes, rounded up to whole pages.
int thread_stack_size(lua_State* L) {
  ThreadRegistry& threads = current_thread(L).core->threads;
  const lua_Integer previous = static_cast<lua_Integer>(threads.stack_size());
  if (!lua_isnoneornil(L, 1)) {
    const lua_Integer bytes = luaL_checkinteger(L, 1);
    const auto min = static_cast<lua_Integer>(ThreadRegistry::kMinStackSize);
    if (bytes != 0 && (bytes < min || bytes > (lua_Integer{1} << 40))) {
      return luaL_error(L, "thread.stack_size: %I bytes is not a stack size: give 0 (the "
                           "system's default) or at least %I bytes",
                        bytes, min);
    }
    const lua_Integer page = 4096;
    threads.set_stack_size(static_cast<size_t>((bytes + page - 1) / page * page));
  }
  lua_pushinteger(L, previous);
  return 1;
}

}  // namespace

int luaopen_thread(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"join", thread_join},       {"alive", thread_alive}, {"traceback", thread_traceback},
      {"__tostring", thread_tostring},
      {"__eq", thread_eq},         {nullptr, nullptr}};
  define_class(L, kHandle, methods, thread_gc);
  luaL_getmetatable(L, kHandle);
  lua_pushcfunction(L, thread_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  static const luaL_Reg functions[] = {{"spawn", thread_spawn},
                                       {"current", thread_current},
                                       {"count", thread_count},
                                       {"stack_size", thread_stack_size},
                                       {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace gilrun
