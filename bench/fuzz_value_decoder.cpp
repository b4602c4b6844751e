// fuzz_value_decoder.cpp — libFuzzer target for the value codec's decoder
// (runtime/value_codec.h): every input is decoded into a fresh lua_State,
// as values (decode_values) and as an error payload (decode_error).
// Decoding must fail cleanly or succeed — never crash, leak, or allocate more
// than the input justifies. Decoded functions are never called (bytecode is
// trusted for execution, not for decoding).
//
// Built only with Clang (bench/CMakeLists.txt), with value_codec.cpp
// compiled into the target so that libFuzzer sees the decoder's coverage.
// `bash .ci/fuzz [seconds]` builds it in build-fuzz/, seeds a corpus with
// the test suite's valid payloads (functions, cycles, shared upvalues:
// ValueCodec.WritesFuzzSeedsWhenAsked) and runs it; CI runs it for 60 s.
// The state is bare (no standard libraries) on purpose: the decoder must
// cope with whatever state a host gives it.
#include <cstddef>
#include <cstdint>
#include <string>

#include <lua.hpp>

#include "codec/value_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lua_State* L = luaL_newstate();
  if (L == nullptr) return 0;
  const char* bytes = reinterpret_cast<const char*>(data);
  int count = 0;
  std::string error;
  if (gilrun::decode_values(L, bytes, size, &count, &error)) {
    lua_pop(L, count);
  } else if (error.empty() || lua_gettop(L) != 0) {
    __builtin_trap();  // a failure must say why and leave the stack alone
  }
  // The same bytes as an error payload (decode_error: one value, or nothing).
  std::string traceback;
  error.clear();
  if (gilrun::decode_error(L, bytes, size, "child ", &traceback, &error)) {
    if (lua_gettop(L) != 1) __builtin_trap();
    lua_pop(L, 1);
  } else if (error.empty() || lua_gettop(L) != 0) {
    __builtin_trap();
  }
  lua_close(L);
  return 0;
}
