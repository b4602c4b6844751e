#include "support.h"

#include "green/green_thread.h"

namespace gilrun {

ThreadState& current_thread(lua_State* L) {
  ThreadState* ts = ThreadState::current();
  if (ts == nullptr) luaL_error(L, "this OS thread does not belong to a gilrun interpreter");
  return *ts;
}

std::optional<double> opt_timeout(lua_State* L, int arg) {
  if (lua_isnoneornil(L, arg)) return std::nullopt;
  const double seconds = luaL_checknumber(L, arg);
  luaL_argcheck(L, seconds == seconds, arg, "timeout must be a number of seconds, not NaN");
  luaL_argcheck(L, seconds >= 0, arg, "timeout must not be negative");
  return seconds;
}

bool is_callable(lua_State* L, int index) {
  if (lua_type(L, index) == LUA_TFUNCTION) return true;
  const bool callable = luaL_getmetafield(L, index, "__call") != LUA_TNIL;
  if (callable) lua_pop(L, 1);
  return callable;
}

int push_wait_result(lua_State* L, WaitStatus status) {
  if (status == WaitStatus::interrupted) raise_interrupted(L);
  if (status == WaitStatus::timed_out) return push_fail(L, "timeout");
  lua_pushboolean(L, 1);
  return 1;
}

int push_fail(lua_State* L, const char* reason) {
  lua_pushnil(L);
  lua_pushstring(L, reason);
  return 2;
}

int push_results(lua_State* L, int handle, const RunRecord& run) {
  if (lua_getiuservalue(L, handle, 1) != LUA_TTHREAD) return 0;
  lua_State* T = lua_tothread(L, -1);
  const bool failed = run.failed;
  const int n = failed ? 1 : lua_gettop(T);
  luaL_checkstack(L, n, "too many results to join");
  if (!lua_checkstack(T, n)) return luaL_error(L, "too many results to join");
  const int top = lua_gettop(T);
  for (int i = top - n + 1; i <= top; ++i) lua_pushvalue(T, i);
  lua_xmove(T, L, n);
  if (failed) return lua_error(L);
  return n;
}

void raise_interrupted(lua_State* L) {
  ThreadState* ts = ThreadState::current();
  if (ts != nullptr && kill_pending(*ts)) luaL_error(L, "killed");  // green.kill()
  luaL_error(L, "interrupted");
  __builtin_unreachable();
}

int sleep_for(lua_State* L, ThreadState& ts, double seconds) {
  const Deadline deadline = deadline_after(seconds);
  if (GreenThread* g = unwindable_green(ts, L)) return sleep_unwound(L, *g, deadline);
  if (sleep_until(ts, deadline) == WaitStatus::interrupted) raise_interrupted(L);
  return 0;
}

void define_class(lua_State* L, const char* name, const luaL_Reg* methods, lua_CFunction gc) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, methods, 0);
  if (gc != nullptr) {
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

}  // namespace gilrun
