// shared.h — what the value codec's encoder (encode.cpp) and decoder
// (decode.cpp) share: the wire format's ext types and limits, which
// value_codec.cpp's notes describe. This file is private to the codec.
#pragma once

#include <cstdint>

#include <lua.hpp>

// Helpers with buffers stay out of the recursive frames: a nesting level
// costs the C stack about one encode_value / push_value frame.
#define NOINLINE __attribute__((noinline))

namespace gilrun {

constexpr int kMaxNesting = 200;   // tables/functions inside each other
constexpr int kStackMargin = 8;    // Lua stack slots one nesting level needs

constexpr int8_t kExtRef = 1;
constexpr int8_t kExtFunction = 2;
constexpr int8_t kExtEnv = 3;
constexpr int8_t kExtCell = 4;
constexpr int8_t kExtHandle = 5;
constexpr int8_t kExtModule = 6;

// lua_error_text() is the message of a failed pcall: a memory or stack
// error, always a string (never converted here: that could raise).
inline const char* lua_error_text(lua_State* L) {
  if (lua_type(L, -1) != LUA_TSTRING) return "(error object is not a string)";
  return lua_tostring(L, -1);
}

}  // namespace gilrun
