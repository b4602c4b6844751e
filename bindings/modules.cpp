// modules.cpp — the one table of gilrun modules, put into package.preload.
#include "gilrun/modules.h"

#include "gilrun/gilrun.h"
#include "cluster/modules.h"
#include "support.h"

namespace gilrun {

int luaopen_futures(lua_State* L);  // futures.cpp (the module is futures.lua)

void preload_modules(lua_State* L) {
  static const luaL_Reg modules[] = {{"thread", luaopen_thread}, {"sync", luaopen_sync},
                                     {"queue", luaopen_queue},   {"time", luaopen_time},
                                     {"gil", luaopen_gil},       {"pipe", luaopen_pipe},
                                     {"process", luaopen_process},
                                     {"green", luaopen_green},   {"net", luaopen_net},
                                     {"futures", luaopen_futures},
                                     {nullptr, nullptr}};
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  luaL_setfuncs(L, modules, 0);
  lua_pop(L, 1);
  preload_cluster_modules(L);
}

void preload_modules(Interpreter& interpreter) {
  interpreter.with_lua([](lua_State* L) { preload_modules(L); });
}

}  // namespace gilrun
