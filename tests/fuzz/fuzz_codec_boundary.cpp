// fuzz_codec_boundary.cpp — libFuzzer target for the value codec's boundary
// with untrusted input: the MessagePack reader (codec/msgpack_reader.h) and
// the bytecode check (codec/bytecode_check.h), the two parts of decoding
// that need no Lua state; only they are compiled in, instrumented
// (tests/fuzz/CMakeLists.txt), so the fuzzer's coverage is theirs.
//
// Every input is read token by token to its end or to its first problem;
// each ext FUNCTION's bytes (and the whole input, which may be a bare chunk)
// go to check_bytecode(). The properties, trapped when broken:
//   - a failure says why; a token's bytes and a container's entries lie
//     inside the input left; the reader always moves forward;
//   - what check_bytecode() accepts, lua_load (lundump.c, in a bare state)
//     reads to its end: it may refuse only the header's LUAC_INT / LUAC_NUM
//     test values, which the check leaves to it. A chunk the check passes
//     that lundump then finds truncated or malformed means the mirror and
//     lundump disagree. Allocation stays proportional to the input
//     (libFuzzer's -malloc_limit_mb, the rss limit, catches more).
// The loaded functions are never called: bytecode is trusted for execution
// only when a gilrun peer encoded it.
//
// `bash .ci/fuzz [seconds]` builds it in build-fuzz/, seeds a corpus with
// the test suite's valid payloads (functions, cycles, shared upvalues:
// ValueCodec.WritesFuzzSeedsWhenAsked) and runs it; CI runs it for 30 s, and
// fuzz_value_decoder (the whole decoder above it) for the other 30.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <lua.hpp>

#include "codec/bytecode_check.h"
#include "codec/msgpack_reader.h"

namespace {

constexpr int8_t kExtFunction = 2;  // value_codec.cpp's wire format

void require(bool property) {
  if (!property) __builtin_trap();
}

const char* read_chunk(lua_State*, void* ud, size_t* size) {
  auto* chunk = static_cast<gilrun::MsgpackToken*>(ud);
  *size = chunk->length;
  chunk->length = 0;
  return *size ? chunk->data : nullptr;
}

bool refused_only_a_test_value(const char* message) {
  return std::strstr(message, "integer format mismatch") != nullptr ||
         std::strstr(message, "float format mismatch") != nullptr ||
         std::strstr(message, "not enough memory") != nullptr;
}

void check_chunk(const char* data, size_t size) {
  size_t nupvalues = 0;
  const char* problem = nullptr;
  if (!gilrun::check_bytecode(data, size, &nupvalues, &problem)) {
    require(problem != nullptr);
    return;
  }
  lua_State* L = luaL_newstate();
  if (L == nullptr) return;
  gilrun::MsgpackToken chunk;
  chunk.data = data;
  chunk.length = size;
  if (lua_load(L, read_chunk, &chunk, "=fuzz", "b") == LUA_OK) {
    lua_Debug ar;
    require(lua_getinfo(L, ">u", &ar) != 0 && ar.nups == nupvalues);
  } else {
    require(refused_only_a_test_value(lua_tostring(L, -1)));
  }
  lua_close(L);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const char* data = reinterpret_cast<const char*>(bytes);
  const char* end = data + size;
  gilrun::MsgpackReader reader(data, size);
  while (!reader.at_end()) {
    const size_t before = reader.offset();
    gilrun::MsgpackToken t;
    if (!reader.next(&t)) {
      require(reader.problem() != nullptr && reader.token_offset() == before);
      break;
    }
    require(reader.offset() > before && reader.offset() <= size && reader.token_offset() == before);
    const size_t left = size - reader.offset();
    switch (t.kind) {
      case gilrun::MsgpackToken::kString:
      case gilrun::MsgpackToken::kBinary:
      case gilrun::MsgpackToken::kExt:
        require(t.data >= data && t.length <= static_cast<size_t>(end - t.data) &&
                t.data + t.length == data + reader.offset());
        if (t.kind == gilrun::MsgpackToken::kExt && t.ext_type == kExtFunction)
          check_chunk(t.data, t.length);
        break;
      case gilrun::MsgpackToken::kArray: require(t.length <= left); break;
      case gilrun::MsgpackToken::kMap: require(t.length <= left / 2); break;
      case gilrun::MsgpackToken::kBigUnsigned: require(t.big_unsigned > INT64_MAX); break;
      default: break;
    }
  }
  check_chunk(data, size);
  return 0;
}
