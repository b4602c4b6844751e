// stdlib_replacements.h — gilrun's own versions of the standard library
// functions that must cooperate with the runtime. This file is private to the
// runtime.
//
// Each installer replaces entries of an already opened standard library with
// functions that keep the stock semantics exactly (Lua's own test suite is
// the judge) and add what the runtime needs:
//   coroutine.create/resume/wrap — tell the eval breaker which lua_State runs: a
//     CPU-bound loop inside a coroutine runs on the coroutine's own state,
//     and the breaker must arm its hook there, or the loop could never be
//     preempted (stdlib_coroutine.cpp); coroutine.yield/isyieldable/status/
//     close — a green thread's own state, which can yield to its hub, still
//     acts as one that cannot (green/green_thread.h);
//   debug.sethook/gethook — ldblib's functions, but the script's hook is
//     given to the breaker while it has its one-shot hook armed on the same
//     state, so a script never sees or overwrites the breaker's hook
//     (stdlib_debug.cpp).
#pragma once

struct lua_State;

namespace gilrun {

// install_coroutine_tracking() replaces coroutine.create, resume, wrap,
// yield, isyieldable, status and close in L's coroutine library (which must be loaded) with tracking versions.
void install_coroutine_tracking(lua_State* L);

// install_debug_hooks() replaces debug.sethook and debug.gethook (if the
// debug library is loaded).
void install_debug_hooks(lua_State* L);

}  // namespace gilrun
