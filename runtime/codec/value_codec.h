// value_codec.h — copies Lua values between separate Lua states, as bytes.
// This file is private to the runtime.
//
// One codec for everything that moves values between VMs: the `isolated` GIL
// policy (a spawned function, its arguments and its results cross from one
// lua_State to another) and subprocesses (values sent over pipes). The wire
// format is MessagePack; value_codec.cpp documents it.
//
// What crosses: nil, booleans, integers and floats (kept apart), strings
// (binary-safe), tables (nested, shared and cyclic references preserved) and
// Lua functions (bytecode plus upvalues; an `_ENV` that is the source's
// global table becomes the destination's, any other `_ENV` is copied).
// Metatables do not cross. Anything else — userdata, threads
// (coroutines), C functions, a function with such an upvalue — is an error
// naming the path of the bad value, e.g. "cannot copy args[2].conn: userdata".
//
// Every function here leaves the stack as it found it when it fails, never
// raises a Lua error and never throws: it returns false with *error set.
#pragma once

#include <cstddef>
#include <string>

struct lua_State;

namespace gilrun {

// encode_values() encodes the `count` values at stack indices first ..
// first+count-1 of L into *out (replacing its contents). `root` names them in
// error paths: root "args" gives args[1], args[2].conn, args[1] (upvalue 'f').
// The GIL of L must be held.
bool encode_values(lua_State* L, int first, int count, const char* root, std::string* out,
                   std::string* error);

// decode_values() pushes the values encoded in data[0, size) onto L and sets
// *count to how many it pushed. Malformed or truncated input is an error, never
// a crash; allocation stays proportional to `size`. Bytecode inside is
// checked for structure, not for safety: decode only what a gilrun peer
// encoded.
bool decode_values(lua_State* L, const char* data, size_t size, int* count, std::string* error);

// Errors that cross (a failed call in a child process, a pool worker or an
// isolated thread; value_codec.cpp's "Errors" has the format):
//
// encode_error() encodes the error value at `idx` of L, as protected_call()
// left it, with `traceback` (protected_call's kept traceback of a non-string
// error; a string error's own is split off its message). A value that cannot
// cross becomes its __tostring text (called here, under protection) or a
// description saying why. Fails only when out of memory.
bool encode_error(lua_State* L, int idx, const std::string& traceback, std::string* out);

// encode_error_message() encodes a string error made in C++ ("cannot start
// the task: ...") with an optional traceback; needs no Lua state.
bool encode_error_message(const std::string& message, const std::string& traceback,
                          std::string* out);

// decode_error() pushes ONE value, the error to raise: a string error with
// its message, "\n", `origin` (e.g. "child process 4242 ") and the traceback
// appended; any other value as itself. *traceback gets the traceback ("" if
// none came). Fails like decode_values(), pushing nothing.
bool decode_error(lua_State* L, const char* data, size_t size, const std::string& origin,
                  std::string* traceback, std::string* error);

// copy_values() = encode_values() on `from` + decode_values() on `to`: on
// success exactly `count` values are pushed onto `to`.
bool copy_values(lua_State* from, int first, int count, lua_State* to, const char* root,
                 std::string* error);

}  // namespace gilrun
