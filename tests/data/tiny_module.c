// tiny_module.c — a C module as LuaRocks would build it: it does not link
// liblua, it expects the host program to provide the lua_* functions.
#include <lua.h>
#include <lauxlib.h>
static int answer(lua_State* L) { lua_pushinteger(L, 42); return 1; }
int luaopen_tiny_module(lua_State* L) { lua_newtable(L); lua_pushcfunction(L, answer); lua_setfield(L, -2, "answer"); return 1; }
