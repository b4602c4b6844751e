// modules.h — the parts of the process module, each in its own
// file, adding their functions to the module table on the top of the stack.
// This file is private to the bindings.
#pragma once

#include <lua.hpp>

namespace gilrun {

void add_pool_functions(lua_State* L);  // process.pool      (pool.cpp)
void add_run_functions(lua_State* L);   // process.run       (run.cpp)

}  // namespace gilrun
