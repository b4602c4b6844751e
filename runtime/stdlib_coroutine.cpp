// stdlib_coroutine.cpp — coroutine.create, resume, wrap, yield, isyieldable,
// status and close (see stdlib_replacements.h). The functions mirror
// lcorolib.c's auxresume, luaB_cocreate, luaB_coresume, auxwrap, luaB_yield
// and luaB_yieldable; the additions are telling the calling thread's
// EvalBreaker which state runs, before and after lua_resume, keeping the
// breaker's hook out of new coroutines, and keeping a green thread's own
// state out of coroutine hands (is_green_state below).
#include "stdlib_replacements.h"

#include <lua.hpp>

#include "green/green_thread.h"
#include "thread_state.h"

namespace gilrun {
namespace {

// resume() resumes `co` with `narg` values from L's top. Returns the number
// of results moved to L, or -1 with the error value on L's top.
int resume(lua_State* L, lua_State* co, int narg) {
  if (parked_unwound(co)) {  // yielded to its hub, not to Lua
    lua_pushliteral(L, "cannot resume non-suspended coroutine");
    return -1;
  }
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
  int status = lua_status(co);
  if (status != LUA_OK && status != LUA_YIELD) {  // the coroutine died
    status = lua_resetthread(co);  // close its to-be-closed variables
    // The (possibly updated) error object goes to the caller, as auxwrap
    // does: left on the dead coroutine's stack, it would look like a
    // function to call, and the next call would not say "dead coroutine".
    lua_xmove(co, L, 1);
  }
  if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

// new_coroutine() pushes a new coroutine running the function at index 1.
// A new lua_State inherits its creator's hook; when that is the breaker's
// one-shot hook, the coroutine gets the script's own hook instead, the one
// it would have inherited without the breaker.
lua_State* new_coroutine(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State* co = lua_newthread(L);
  if (ThreadState* ts = ThreadState::current()) {
    const EvalBreaker::Hook script = ts->breaker.script_hook(L);
    if (lua_gethook(co) != script.fn) lua_sethook(co, script.fn, script.mask, script.count);
  }
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  return co;
}

int co_create(lua_State* L) {
  new_coroutine(L);
  return 1;
}

int co_wrap(lua_State* L) {
  new_coroutine(L);
  lua_pushcclosure(L, wrapped_call, 1);
  return 1;
}

// A green thread's own state runs inside a yieldable protected call, so that
// it can park without its stack (green/green_thread.h); to Lua it must
// still look as it did when it was not: not yieldable, and, while parked,
// neither suspended nor closable.
bool is_green_state(lua_State* co) {
  const ThreadState* ts = ThreadState::current();
  return (ts != nullptr && ts->green != nullptr && ts->green->L == co) || parked_unwound(co);
}

lua_State* coroutine_arg(lua_State* L) {
  lua_State* co = lua_isnone(L, 1) ? L : lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  return co;
}

int co_yield(lua_State* L) {
  if (is_green_state(L)) return luaL_error(L, "attempt to yield across a C-call boundary");
  return lua_yield(L, lua_gettop(L));
}

int co_isyieldable(lua_State* L) {
  lua_State* co = coroutine_arg(L);
  lua_pushboolean(L, lua_isyieldable(co) && !is_green_state(co));
  return 1;
}

// call_stock() calls the library's own function (upvalue 1) with the
// arguments.
int call_stock(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

int co_status(lua_State* L) {
  if (lua_isthread(L, 1) && parked_unwound(lua_tothread(L, 1))) {
    lua_pushliteral(L, "normal");
    return 1;
  }
  return call_stock(L);
}

int co_close(lua_State* L) {
  if (lua_isthread(L, 1) && parked_unwound(lua_tothread(L, 1))) {
    return luaL_error(L, "cannot close a normal coroutine");
  }
  return call_stock(L);
}

// wrap_stock() replaces coroutine[name] (the table at L's top) with `fn`,
// which gets the stock function as its upvalue.
void wrap_stock(lua_State* L, const char* name, lua_CFunction fn) {
  lua_getfield(L, -1, name);
  lua_pushcclosure(L, fn, 1);
  lua_setfield(L, -2, name);
}

}  // namespace

void install_coroutine_tracking(lua_State* L) {
  lua_getglobal(L, "coroutine");
  if (lua_istable(L, -1)) {
    lua_pushcfunction(L, co_create);
    lua_setfield(L, -2, "create");
    lua_pushcfunction(L, co_resume);
    lua_setfield(L, -2, "resume");
    lua_pushcfunction(L, co_wrap);
    lua_setfield(L, -2, "wrap");
    lua_pushcfunction(L, co_yield);
    lua_setfield(L, -2, "yield");
    lua_pushcfunction(L, co_isyieldable);
    lua_setfield(L, -2, "isyieldable");
    wrap_stock(L, "status", co_status);
    wrap_stock(L, "close", co_close);
  }
  lua_pop(L, 1);
}

}  // namespace gilrun
