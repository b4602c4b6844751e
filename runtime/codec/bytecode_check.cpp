// bytecode_check.cpp — check_bytecode() (bytecode_check.h): lundump.c's
// reading order (Lua 5.4.4: checkHeader, loadFunction and its load*
// helpers), each declared count checked against the bytes left before it is
// believed. Needs Lua's headers for the format's constants, never a state.
#include "codec/bytecode_check.h"

#include <climits>
#include <cstring>

#include <lua.hpp>

#if LUA_VERSION_NUM != 504
#error "bytecode_check.cpp mirrors the Lua 5.4 bytecode format"
#endif

namespace gilrun {
namespace {

// lundump recurses once per nested function; the value codec nests tables
// and functions 200 deep too (codec/shared.h's kMaxNesting).
constexpr int kMaxFunctionNesting = 200;

struct ChunkWalk {
  const unsigned char* pos;
  const unsigned char* end;
  const char* problem = nullptr;

  size_t left() const { return static_cast<size_t>(end - pos); }
  bool fail(const char* why) {
    problem = why;
    return false;
  }
  bool skip(size_t n) {
    if (n > left()) return fail("truncated bytecode");
    pos += n;
    return true;
  }
  bool byte(unsigned* b) {
    if (pos == end) return fail("truncated bytecode");
    *b = *pos++;
    return true;
  }
  // varint() mirrors lundump's loadUnsigned(): 7 bits a byte, MSB first,
  // the last byte has 0x80 set.
  bool varint(size_t limit, size_t* x) {
    size_t v = 0;
    unsigned b = 0;
    limit >>= 7;
    do {
      if (!byte(&b)) return false;
      if (v >= limit) return fail("integer overflow in bytecode");
      v = (v << 7) | (b & 0x7f);
    } while ((b & 0x80) == 0);
    *x = v;
    return true;
  }
  bool count(size_t bytes_each, size_t* n) {  // a vector length, checked
    if (!varint(INT_MAX, n)) return false;
    if (*n > left() / bytes_each) return fail("bytecode vector longer than the input");
    return true;
  }
  bool integer() {
    size_t ignored = 0;
    return varint(INT_MAX, &ignored);
  }
  bool string(bool nullable) {
    size_t size = 0;
    if (!varint(~size_t(0), &size)) return false;
    if (size == 0) return nullable ? true : fail("missing constant string in bytecode");
    return skip(size - 1);
  }
};

bool walk_constants(ChunkWalk& w) {
  size_t n = 0;
  if (!w.count(1, &n)) return false;
  for (size_t i = 0; i < n; ++i) {
    unsigned tag = 0;
    if (!w.byte(&tag)) return false;
    switch (tag) {
      case 0x00: case 0x01: case 0x11: break;                                   // nil, false, true
      case 0x03: if (!w.skip(sizeof(lua_Integer))) return false; break;         // integer
      case 0x13: if (!w.skip(sizeof(lua_Number))) return false; break;          // float
      case 0x04: case 0x14: if (!w.string(false)) return false; break;          // short, long string
      default: return w.fail("unknown constant type in bytecode");
    }
  }
  return true;
}

bool walk_function(ChunkWalk& w, int depth, size_t* nupvalues);

bool walk_debug(ChunkWalk& w, size_t ncode, size_t nupvalues) {
  size_t n = 0;
  if (!w.count(1, &n)) return false;  // lineinfo, one byte per instruction
  if (n != 0 && n != ncode) return w.fail("line info does not match the code");
  if (!w.skip(n) || !w.count(2, &n)) return false;  // abslineinfo: pc, line
  for (size_t i = 0; i < n; ++i)
    if (!w.integer() || !w.integer()) return false;
  if (!w.count(3, &n)) return false;  // locvars: name, startpc, endpc
  for (size_t i = 0; i < n; ++i)
    if (!w.string(true) || !w.integer() || !w.integer()) return false;
  if (!w.count(1, &n)) return false;  // upvalue names
  if (n != 0 && n != nupvalues) return w.fail("upvalue names do not match the upvalues");
  for (size_t i = 0; i < n; ++i)
    if (!w.string(true)) return false;
  return true;
}

bool walk_function(ChunkWalk& w, int depth, size_t* nupvalues) {
  if (depth > kMaxFunctionNesting) return w.fail("functions nested too deeply in bytecode");
  size_t ncode = 0, nprotos = 0;
  if (!w.string(true) || !w.integer() || !w.integer() || !w.skip(3)) return false;
  if (!w.count(4, &ncode) || !w.skip(4 * ncode)) return false;
  if (!walk_constants(w)) return false;
  if (!w.count(3, nupvalues) || !w.skip(3 * *nupvalues)) return false;
  if (!w.count(1, &nprotos)) return false;
  for (size_t i = 0; i < nprotos; ++i) {
    size_t ignored = 0;
    if (!walk_function(w, depth + 1, &ignored)) return false;
  }
  return walk_debug(w, ncode, *nupvalues);
}

bool walk_header(ChunkWalk& w) {
  static const char kSignature[] = LUA_SIGNATURE;       // "\x1bLua"
  static const char kData[] = "\x19\x93\r\n\x1a\n";   // LUAC_DATA
  if (w.left() < 4 || std::memcmp(w.pos, kSignature, 4) != 0) return w.fail("not Lua bytecode");
  w.pos += 4;
  unsigned version = 0, format = 0;
  if (!w.byte(&version) || !w.byte(&format)) return false;
  if (version != 0x54 || format != 0) return w.fail("bytecode of another Lua version");
  if (w.left() < 6 || std::memcmp(w.pos, kData, 6) != 0) return w.fail("corrupted bytecode header");
  w.pos += 6;
  unsigned instruction = 0, integer = 0, number = 0;
  if (!w.byte(&instruction) || !w.byte(&integer) || !w.byte(&number)) return false;
  if (instruction != 4 || integer != sizeof(lua_Integer) || number != sizeof(lua_Number))
    return w.fail("bytecode for another machine");
  return w.skip(sizeof(lua_Integer) + sizeof(lua_Number));  // LUAC_INT, LUAC_NUM: lua_load checks
}

}  // namespace

bool check_bytecode(const char* data, size_t size, size_t* nupvalues, const char** problem) {
  ChunkWalk w{reinterpret_cast<const unsigned char*>(data),
              reinterpret_cast<const unsigned char*>(data) + size};
  unsigned closure_upvalues = 0;
  bool ok = walk_header(w) && w.byte(&closure_upvalues) && walk_function(w, 1, nupvalues);
  if (ok && *nupvalues != closure_upvalues) ok = w.fail("upvalue count mismatch in bytecode");
  if (ok && w.left() != 0) ok = w.fail("bytes after the bytecode");
  *problem = w.problem;
  return ok;
}

}  // namespace gilrun
