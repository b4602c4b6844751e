// modules.h — the gilrun Lua modules, for hosts that embed the runtime.
//
// preload_modules() puts thread, sync, queue, time, gil, pipe, process,
// green, net, futures and cluster (with its cluster.* parts) into L's
// package.preload, so scripts `require` them. The bindings depend on the runtime (gilrun.h), never the other way
// round.
#pragma once

struct lua_State;

namespace gilrun {

class Interpreter;

void preload_modules(lua_State* L);
void preload_modules(Interpreter& interpreter);

}  // namespace gilrun
