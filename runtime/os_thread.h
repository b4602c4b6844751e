// os_thread.h — starting a Lua function on a new OS thread (os_thread.cpp).
// This file is private to the runtime.
#pragma once

#include <memory>

#include "thread_registry.h"

struct lua_State;

namespace gilrun {

// spawn_thread() starts an OS thread that calls the function at L's stack
// index `first` with the values above it as arguments, popping them all, and
// pushes the thread's lua_State (its results end up on that stack; nil for
// an isolated thread, whose results come back encoded). `name` may be null
// (a name is made up). If the thread cannot start it returns null with the
// reason pushed instead. It may raise a memory error, and then nothing has
// started.
std::shared_ptr<ThreadRecord> spawn_thread(lua_State* L, int first, const char* name,
                                           bool daemon);

}  // namespace gilrun
