// modules.cpp — the cluster module's Lua parts (cluster.lua, protocol.lua,
// broker.lua, backend.lua, client.lua, worker.lua, control.lua) are embedded into the
// binary (cmake/embed.cmake) and loaded from here under their file names, so
// errors and tracebacks point into them; core.cpp is the C++ half.
#include <lua.hpp>

#include <cstddef>

#include "cluster/modules.h"

namespace gilrun {
namespace embedded {
#define GILRUN_CLUSTER_EMBEDDED(var)   \
  extern const char var[];             \
  extern const std::size_t var##_size;
GILRUN_CLUSTER_EMBEDDED(cluster_lua)
GILRUN_CLUSTER_EMBEDDED(cluster_protocol_lua)
GILRUN_CLUSTER_EMBEDDED(cluster_broker_lua)
GILRUN_CLUSTER_EMBEDDED(cluster_backend_lua)
GILRUN_CLUSTER_EMBEDDED(cluster_client_lua)
GILRUN_CLUSTER_EMBEDDED(cluster_worker_lua)
GILRUN_CLUSTER_EMBEDDED(cluster_control_lua)
#undef GILRUN_CLUSTER_EMBEDDED
}  // namespace embedded

namespace {

int load(lua_State* L, const char* data, std::size_t size, const char* chunkname) {
  if (luaL_loadbuffer(L, data, size, chunkname) != LUA_OK) return lua_error(L);
  lua_pushvalue(L, 1);  // require's module name, as a file chunk gets it
  lua_call(L, 1, 1);
  return 1;
}

#define GILRUN_CLUSTER_OPEN(fn, var, file) \
  int fn(lua_State* L) { return load(L, embedded::var, embedded::var##_size, "@" file); }
GILRUN_CLUSTER_OPEN(open_cluster, cluster_lua, "cluster.lua")
GILRUN_CLUSTER_OPEN(open_protocol, cluster_protocol_lua, "cluster/protocol.lua")
GILRUN_CLUSTER_OPEN(open_broker, cluster_broker_lua, "cluster/broker.lua")
GILRUN_CLUSTER_OPEN(open_backend, cluster_backend_lua, "cluster/backend.lua")
GILRUN_CLUSTER_OPEN(open_client, cluster_client_lua, "cluster/client.lua")
GILRUN_CLUSTER_OPEN(open_worker, cluster_worker_lua, "cluster/worker.lua")
GILRUN_CLUSTER_OPEN(open_control, cluster_control_lua, "cluster/control.lua")
#undef GILRUN_CLUSTER_OPEN

}  // namespace

void preload_cluster_modules(lua_State* L) {
  static const luaL_Reg modules[] = {{"cluster", open_cluster},
                                     {"cluster.core", luaopen_cluster_core},
                                     {"cluster.protocol", open_protocol},
                                     {"cluster.broker", open_broker},
                                     {"cluster.backend", open_backend},
                                     {"cluster.client", open_client},
                                     {"cluster.worker", open_worker},
                                     {"cluster.control", open_control},
                                     {nullptr, nullptr}};
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  luaL_setfuncs(L, modules, 0);
  lua_pop(L, 1);
}

}  // namespace gilrun
