// fuzz_value_decoder.cpp — libFuzzer target for the whole value decoder
// (codec/decode.cpp: decode_values() and decode_error(), value_codec.h) on
// arbitrary bytes, each input into a fresh lua_State. fuzz_codec_boundary
// covers the reader and the bytecode check alone; this one covers what the
// decoder builds from their tokens: tables, shared and cyclic references,
// upvalue cells, functions and their _ENV, the error payload's folding.
//
// The properties, trapped when broken:
//   - decode_values() either pushes exactly *count values, or pushes nothing
//     and says why (a clean error); it raises no Lua error and throws nothing
//     (it runs in lua_pcall here, so a raise would show as a status);
//   - decode_error() either pushes exactly one value, or nothing with a reason;
//   - what it built is a sound Lua object graph: a full garbage collection
//     and a walk of every table reached (cycles included) survive it, and
//     lua_close() frees all of it (LeakSanitizer sees the rest).
// Decoded functions are never called: bytecode is trusted for execution only
// when a gilrun peer encoded it (value_codec.h).
//
// `bash .ci/fuzz [seconds]` builds it with fuzz_codec_boundary and runs both
// on the same seed corpus, half the time each.
#include <cstddef>
#include <cstdint>
#include <string>

#include <lua.hpp>

#include "codec/value_codec.h"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

struct Input {
  const char* data;
  size_t size;
};

// walk() visits every table reachable from the value at the top of L once
// (a `seen` table at `seen` breaks cycles), reading each key and value.
void walk(lua_State* L, int seen) {
  if (!lua_istable(L, -1)) return;
  lua_pushvalue(L, -1);
  if (lua_rawget(L, seen) != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, -1);
  lua_pushboolean(L, 1);
  lua_rawset(L, seen);
  luaL_checkstack(L, 4, "walk");
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    walk(L, seen);     // the value
    lua_pushvalue(L, -2);
    walk(L, seen);     // the key
    lua_pop(L, 2);
  }
}

int decode_all(lua_State* L) {
  const auto* in = static_cast<const Input*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  lua_newtable(L);  // 1: seen
  int count = -1;
  std::string error;
  if (gilrun::decode_values(L, in->data, in->size, &count, &error)) {
    require(count >= 0 && lua_gettop(L) == 1 + count);
  } else {
    require(!error.empty() && lua_gettop(L) == 1);
  }
  lua_gc(L, LUA_GCCOLLECT);
  for (int i = 2; i <= lua_gettop(L); ++i) {
    lua_pushvalue(L, i);
    walk(L, 1);
    lua_pop(L, 1);
  }
  lua_settop(L, 1);
  std::string traceback;
  error.clear();
  if (gilrun::decode_error(L, in->data, in->size, "fuzz ", &traceback, &error)) {
    require(lua_gettop(L) == 2);
    walk(L, 1);
  } else {
    require(!error.empty() && lua_gettop(L) == 1);
  }
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  lua_State* L = luaL_newstate();
  if (L == nullptr) return 0;
  Input in{reinterpret_cast<const char*>(bytes), size};
  lua_pushcfunction(L, decode_all);
  lua_pushlightuserdata(L, &in);
  const int status = lua_pcall(L, 1, 0, 0);
  // Only running out of memory may end it early (libFuzzer's malloc limit).
  require(status == LUA_OK || status == LUA_ERRMEM);
  lua_close(L);
  return 0;
}
