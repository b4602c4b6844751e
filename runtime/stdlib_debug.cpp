// stdlib_debug.cpp — debug.sethook and debug.gethook (see
// stdlib_replacements.h).
//
// They are ldblib.c's functions with one difference: the hook is installed
// through the calling thread's EvalBreaker, which may have its own one-shot
// hook armed on the same state at that moment. A wrapper around the stock
// functions (the first design) added a C frame that scripts saw in their
// call/return hooks and in debug.getinfo levels; these are single C
// functions, as the stock ones are. The Lua hook functions live where
// ldblib keeps them (the registry's "_HOOKKEY" table, weak keys, one entry
// per coroutine).
#include <lua.hpp>

#include <cstring>

#include "stdlib_replacements.h"
#include "thread_state.h"

namespace gilrun {
namespace {

constexpr const char* kHookTable = "_HOOKKEY";  // ldblib's registry key

// call_script_hook() is the C hook behind every Lua hook function: it calls
// the function registered for the running coroutine with the event's name
// and, when there is one, the current line.
void call_script_hook(lua_State* L, lua_Debug* ar) {
  static const char* const kEventNames[] = {"call", "return", "line", "count", "tail call"};
  lua_getfield(L, LUA_REGISTRYINDEX, kHookTable);
  lua_pushthread(L);
  if (lua_rawget(L, -2) == LUA_TFUNCTION) {
    lua_pushstring(L, kEventNames[ar->event]);
    if (ar->currentline >= 0) {
      lua_pushinteger(L, ar->currentline);
    } else {
      lua_pushnil(L);
    }
    lua_call(L, 2, 0);
  }
}

// target_thread() is the coroutine a debug function acts on: its first
// argument if that is a thread (*first_arg = 1), else L itself (0).
lua_State* target_thread(lua_State* L, int* first_arg) {
  if (lua_isthread(L, 1)) {
    *first_arg = 1;
    return lua_tothread(L, 1);
  }
  *first_arg = 0;
  return L;
}

// push_thread_key() pushes L1 as a value of L (the hook table's key).
void push_thread_key(lua_State* L, lua_State* L1) {
  if (L != L1 && !lua_checkstack(L1, 1)) luaL_error(L, "stack overflow");
  lua_pushthread(L1);
  lua_xmove(L1, L, 1);
}

int mask_of(const char* letters, int count) {
  int mask = 0;
  if (std::strchr(letters, 'c') != nullptr) mask |= LUA_MASKCALL;
  if (std::strchr(letters, 'r') != nullptr) mask |= LUA_MASKRET;
  if (std::strchr(letters, 'l') != nullptr) mask |= LUA_MASKLINE;
  if (count > 0) mask |= LUA_MASKCOUNT;
  return mask;
}

// debug.sethook([thread,] hook, mask [, count]) / debug.sethook([thread])
int debug_sethook(lua_State* L) {
  int arg = 0;
  lua_State* L1 = target_thread(L, &arg);
  EvalBreaker::Hook hook;
  if (lua_isnoneornil(L, arg + 1)) {
    lua_settop(L, arg + 1);  // turn the hook off
  } else {
    const char* letters = luaL_checkstring(L, arg + 2);
    luaL_checktype(L, arg + 1, LUA_TFUNCTION);
    hook.count = static_cast<int>(luaL_optinteger(L, arg + 3, 0));
    hook.fn = call_script_hook;
    hook.mask = mask_of(letters, hook.count);
  }
  if (!luaL_getsubtable(L, LUA_REGISTRYINDEX, kHookTable)) {
    lua_pushliteral(L, "k");  // a new table: its keys (threads) are weak
    lua_setfield(L, -2, "__mode");
    lua_pushvalue(L, -1);
    lua_setmetatable(L, -2);
  }
  push_thread_key(L, L1);
  lua_pushvalue(L, arg + 1);
  lua_rawset(L, -3);  // hooktable[L1] = hook function (or nil)
  ThreadState* ts = ThreadState::current();
  if (ts != nullptr) {
    ts->breaker.set_script_hook(L1, hook);
  } else {
    lua_sethook(L1, hook.fn, hook.mask, hook.count);
  }
  return 0;
}

// debug.gethook([thread]) -> hook, mask, count | fail
int debug_gethook(lua_State* L) {
  int arg = 0;
  lua_State* L1 = target_thread(L, &arg);
  ThreadState* ts = ThreadState::current();
  const EvalBreaker::Hook hook =
      ts != nullptr ? ts->breaker.script_hook(L1)
                    : EvalBreaker::Hook{lua_gethook(L1), lua_gethookmask(L1), lua_gethookcount(L1)};
  if (hook.fn == nullptr) {
    luaL_pushfail(L);
    return 1;
  }
  if (hook.fn != call_script_hook) {
    lua_pushliteral(L, "external hook");
  } else {
    lua_getfield(L, LUA_REGISTRYINDEX, kHookTable);
    push_thread_key(L, L1);
    lua_rawget(L, -2);
    lua_remove(L, -2);  // the hook table
  }
  char letters[4];
  int n = 0;
  if ((hook.mask & LUA_MASKCALL) != 0) letters[n++] = 'c';
  if ((hook.mask & LUA_MASKRET) != 0) letters[n++] = 'r';
  if ((hook.mask & LUA_MASKLINE) != 0) letters[n++] = 'l';
  letters[n] = '\0';
  lua_pushstring(L, letters);
  lua_pushinteger(L, hook.count);
  return 3;
}

}  // namespace

void install_debug_hooks(lua_State* L) {
  lua_getglobal(L, "debug");
  if (lua_istable(L, -1)) {
    lua_pushcfunction(L, debug_sethook);
    lua_setfield(L, -2, "sethook");
    lua_pushcfunction(L, debug_gethook);
    lua_setfield(L, -2, "gethook");
  }
  lua_pop(L, 1);
}

}  // namespace gilrun
