// coroutines.h — coroutine.resume and coroutine.wrap that keep the eval
// breaker's idea of the running lua_State right. This file is private to the
// runtime.
//
// A CPU-bound loop inside a coroutine runs on the coroutine's own lua_State;
// the breaker must arm its hook there, or the loop could never be preempted.
#pragma once

struct lua_State;

namespace gilrun {

// install_coroutine_tracking() replaces coroutine.resume and coroutine.wrap
// in L's coroutine library (which must be loaded) with tracking versions.
void install_coroutine_tracking(lua_State* L);

}  // namespace gilrun
