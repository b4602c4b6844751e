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

// copy_values() = encode_values() on `from` + decode_values() on `to`: on
// success exactly `count` values are pushed onto `to`.
bool copy_values(lua_State* from, int first, int count, lua_State* to, const char* root,
                 std::string* error);

}  // namespace gilrun
