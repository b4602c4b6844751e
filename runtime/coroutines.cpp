// coroutines.cpp — see coroutines.h. The functions mirror lcorolib.c's
// auxresume/luaB_coresume/luaB_cowrap; the only addition is telling the
// calling thread's EvalBreaker which state runs, before and after lua_resume.
#include "coroutines.h"

#include <lua.hpp>

#include "thread_state.h"

namespace gilrun {
namespace {

// resume() resumes `co` with `narg` values from L's top. Returns the number
// of results moved to L, or -1 with the error value on L's top.
int resume(lua_State* L, lua_State* co, int narg) {
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, narg);
  ThreadState* ts = ThreadState::current();
  if (ts != nullptr) ts->breaker.set_running(co);
  int nres = 0;
  const int status = lua_resume(co, L, narg, &nres);
  if (ts != nullptr) ts->breaker.set_running(L);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  lua_xmove(co, L, 1);  // the error value
  return -1;
}

int co_resume(lua_State* L) {
  lua_State* co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  const int r = resume(L, co, lua_gettop(L) - 1);
  if (r < 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;  // false, error
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;  // true, results
}

int wrapped_call(lua_State* L) {
  lua_State* co = lua_tothread(L, lua_upvalueindex(1));
  const int r = resume(L, co, lua_gettop(L));
  if (r >= 0) return r;
  const int status = lua_status(co);
  if (status != LUA_OK && status != LUA_YIELD) {  // the coroutine died
    lua_resetthread(co);  // close its to-be-closed variables
  }
  if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

int co_wrap(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State* co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, wrapped_call, 1);
  return 1;
}

// guarded_call() calls upvalue 1 (the original debug function) with the
// breaker suspended; errors are re-raised only after it is resumed.
int guarded_call(lua_State* L) {
  const int nargs = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  ThreadState* ts = ThreadState::current();
  if (ts != nullptr) ts->breaker.suspend();
  const int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
  if (ts != nullptr) ts->breaker.resume();
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

void guard(lua_State* L, const char* name) {
  if (lua_getfield(L, -1, name) == LUA_TFUNCTION) {
    lua_pushcclosure(L, guarded_call, 1);
    lua_setfield(L, -2, name);
  } else {
    lua_pop(L, 1);
  }
}

}  // namespace

void install_hook_guards(lua_State* L) {
  lua_getglobal(L, "debug");
  if (lua_istable(L, -1)) {
    guard(L, "sethook");
    guard(L, "gethook");
  }
  lua_pop(L, 1);
}

void install_coroutine_tracking(lua_State* L) {
  lua_getglobal(L, "coroutine");
  if (lua_istable(L, -1)) {
    lua_pushcfunction(L, co_resume);
    lua_setfield(L, -2, "resume");
    lua_pushcfunction(L, co_wrap);
    lua_setfield(L, -2, "wrap");
  }
  lua_pop(L, 1);
}

}  // namespace gilrun
