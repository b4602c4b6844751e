// coroutines.h — the standard functions the eval breaker needs to see:
// coroutine.resume and coroutine.wrap (which lua_State runs) and
// debug.sethook/gethook (whose hook is installed). This file is private to
// the runtime.
//
// A CPU-bound loop inside a coroutine runs on the coroutine's own lua_State;
// the breaker must arm its hook there, or the loop could never be preempted.
#pragma once

struct lua_State;

namespace gilrun {

// install_coroutine_tracking() replaces coroutine.resume and coroutine.wrap
// in L's coroutine library (which must be loaded) with tracking versions.
void install_coroutine_tracking(lua_State* L);

// install_hook_guards() wraps debug.sethook and debug.gethook so that they
// run with the eval breaker suspended: the script sees and sets only its own
// hook, never the breaker's one-shot hook.
void install_hook_guards(lua_State* L);

}  // namespace gilrun
