// support.h — the handful of helpers every binding uses. This file is
// private to the bindings.
//
// Objects are C++ structs living in full userdata (placement new, destroyed
// by __gc). Mind the longjmp rule: luaL_check*/luaL_error jump over C++
// frames, so check arguments before creating C++ objects with destructors,
// and raise errors only once those are gone.
#pragma once

#include <lua.hpp>

#include <new>
#include <optional>
#include <utility>

#include "run_record.h"
#include "thread_state.h"
#include "wait/wait_list.h"

namespace gilrun {

// current_thread() is the calling thread's ThreadState; raises if the
// calling OS thread is not one of the interpreter's.
ThreadState& current_thread(lua_State* L);

// is_callable() tells whether the value at `index` can be called: a
// function, or a value with a __call metamethod.
bool is_callable(lua_State* L, int index);

// opt_timeout() reads an optional timeout in seconds at `arg` (nil: none).
std::optional<double> opt_timeout(lua_State* L, int arg);

// push_fail() pushes `nil, reason` and returns 2 (LuaSocket style).
int push_fail(lua_State* L, const char* reason);

// push_wait_result() is how every wait ends, in one place (luv's
// luv_result shape): ready pushes true (1 result), a timeout pushes
// nil, "timeout" (2), an interrupted wait raises the Ctrl-C error (or
// "killed" in a killed green thread). A wait whose success returns
// something else ends with
//   if (status != WaitStatus::ready) return push_wait_result(L, status);
int push_wait_result(lua_State* L, WaitStatus status);

// push_results() ends a join (thread.cpp, green.cpp) once join_run()
// (run_record.h) is ready: it copies the results of `run` (the whole stack
// of its Lua thread, the user value 1 of the handle at `handle`) to L and
// returns their count; if the run failed, it copies the error value and
// raises it. A handle without a Lua thread (the main thread's) has none.
int push_results(lua_State* L, int handle, const RunRecord& run);

// raise_interrupted() raises the Ctrl-C error in the calling thread ("killed"
// in a green thread that green.kill() stopped).
[[noreturn]] void raise_interrupted(lua_State* L);

// define_class() creates metatable `name` with `methods` (and __gc if
// given) and __index pointing at the metatable itself. Pops nothing.
// sleep_for() is the end of time.sleep and green.sleep for seconds > 0:
// `return sleep_for(L, ts, seconds);`. A green thread that can parks
// without its stack (green/green_thread.h); Ctrl-C (or a kill) raises.
int sleep_for(lua_State* L, ThreadState& ts, double seconds);

void define_class(lua_State* L, const char* name, const luaL_Reg* methods,
                  lua_CFunction gc = nullptr);

// new_object<T>() pushes a userdata holding a T built from `args`, with
// metatable `name`; `nuvalue` user values.
template <class T, class... Args>
T* new_object(lua_State* L, const char* name, int nuvalue, Args&&... args) {
  void* memory = lua_newuserdatauv(L, sizeof(T), nuvalue);
  T* object = new (memory) T(std::forward<Args>(args)...);
  luaL_setmetatable(L, name);
  return object;
}

template <class T>
T* check_object(lua_State* L, int arg, const char* name) {
  return static_cast<T*>(luaL_checkudata(L, arg, name));
}

// destroy_object<T>() is a ready-made __gc.
template <class T>
int destroy_object(lua_State* L) {
  static_cast<T*>(lua_touserdata(L, 1))->~T();
  return 0;
}

// Each binding's luaopen_ function.
int luaopen_thread(lua_State* L);
int luaopen_sync(lua_State* L);
int luaopen_queue(lua_State* L);
int luaopen_time(lua_State* L);
int luaopen_gil(lua_State* L);
int luaopen_pipe(lua_State* L);
int luaopen_process(lua_State* L);
int luaopen_green(lua_State* L);
int luaopen_net(lua_State* L);

}  // namespace gilrun
