// cluster/modules.h — the cluster module's entry points. This file is
// private to the bindings.
#pragma once

struct lua_State;

namespace gilrun {

// luaopen_cluster_core() opens `cluster.core` (core.cpp).
int luaopen_cluster_core(lua_State* L);

// preload_cluster_modules() puts `cluster` and its parts into package.preload.
void preload_cluster_modules(lua_State* L);

}  // namespace gilrun
