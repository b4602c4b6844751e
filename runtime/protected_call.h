// protected_call.h — the one protected path into Lua. This file is private to
// the runtime.
//
// Every chunk, thread body and callback enters Lua through protected_call(),
// so every error, in any thread, arrives with a traceback and nothing ever
// longjmps past C++ code.
#pragma once

#include <string>

#include "gilrun/gilrun.h"

struct lua_State;

namespace gilrun {

// protected_call() is lua_pcall with a message handler that appends a
// traceback to string errors (non-string error objects pass unchanged).
// Returns the lua_pcall status; on error the error value is on the stack.
int protected_call(lua_State* L, int nargs, int nresults);

// protected_call(L, nargs, nresults, &traceback) is the same call that also
// keeps the traceback of a non-string error, taken where it was raised, in
// *traceback ("stack traceback:\n..."; a string error carries its own, and
// *traceback is left alone). For errors that leave the VM as values: threads,
// isolated threads, process children (value_codec.h's encode_error).
int protected_call(lua_State* L, int nargs, int nresults, std::string* traceback);

// insert_message_handler() puts protected_call()'s message handler below
// the function and its `nargs` arguments at L's top, and returns its index,
// for a protected call made by hand: green_thread.cpp's yieldable one
// (lua_pcallk), whose continuation removes the handler again.
int insert_message_handler(lua_State* L, int nargs, std::string* traceback);

// describe_error() turns the error value at the top of L (left in place) into
// a RunResult: "file:line: message" plus "stack traceback:\n...".
RunResult describe_error(lua_State* L, int status);

// pop_error() is describe_error() followed by popping the error value.
RunResult pop_error(lua_State* L, int status);

// is_interrupt() tells whether an error message is the Ctrl-C error.
bool is_interrupt(const std::string& message);

}  // namespace gilrun
