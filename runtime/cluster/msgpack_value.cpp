// msgpack_value.cpp — msgpack_decode() (msgpack_value.h), on the codec's
// MessagePack reader (codec/msgpack_reader.h), the one reader of untrusted
// MessagePack. It read through msgpack-c's msgpack_unpack_next() before,
// which sized every declared array and map before reading it and refused
// bodies nested more than 32 deep.
//
// Values are pushed as they are read; on an error the stack goes back to
// where it was. Nothing here owns memory, so a Lua memory error (a longjmp)
// leaves nothing behind.
#include "cluster/msgpack_value.h"

#include <climits>

#include <lua.hpp>

#include "codec/msgpack_reader.h"

namespace gilrun::cluster {
namespace {

constexpr int kMaxDepth = 200;

struct Body {
  lua_State* L;
  MsgpackReader reader;
  std::string* error;
};

bool fail(Body& b, const char* why) {
  *b.error = why;
  return false;
}

bool push(Body& b, const MsgpackToken& t, int depth);

// push_next() reads the next token and pushes its value; a map key must be a
// string or an integer.
bool push_next(Body& b, int depth, bool is_key) {
  MsgpackToken t;
  if (!b.reader.next(&t))
    return fail(b, b.reader.truncated() ? "truncated MessagePack body" : "malformed MessagePack body");
  if (is_key && t.kind != MsgpackToken::kString && t.kind != MsgpackToken::kInteger &&
      t.kind != MsgpackToken::kBigUnsigned)
    return fail(b, "MessagePack map key that is not a string or an integer");
  return push(b, t, depth);
}

// entries() is a container's size hint; the reader has checked the count
// against the bytes left.
int entries(const MsgpackToken& t) { return t.length > INT_MAX ? INT_MAX : static_cast<int>(t.length); }

bool push(Body& b, const MsgpackToken& t, int depth) {
  lua_State* L = b.L;
  if (depth >= kMaxDepth || !lua_checkstack(L, 3)) return fail(b, "MessagePack body nested too deeply");
  switch (t.kind) {
    case MsgpackToken::kNil: lua_pushnil(L); return true;
    case MsgpackToken::kBoolean: lua_pushboolean(L, t.boolean); return true;
    case MsgpackToken::kInteger: lua_pushinteger(L, static_cast<lua_Integer>(t.integer)); return true;
    case MsgpackToken::kBigUnsigned: lua_pushnumber(L, static_cast<lua_Number>(t.big_unsigned)); return true;
    case MsgpackToken::kFloat: lua_pushnumber(L, static_cast<lua_Number>(t.number)); return true;
    case MsgpackToken::kString:
    case MsgpackToken::kBinary: lua_pushlstring(L, t.data, t.length); return true;
    case MsgpackToken::kArray:
      lua_createtable(L, entries(t), 0);
      for (size_t i = 0; i < t.length; ++i) {
        if (!push_next(b, depth + 1, false)) return false;
        lua_rawseti(L, -2, static_cast<lua_Integer>(i) + 1);
      }
      return true;
    case MsgpackToken::kMap:
      lua_createtable(L, 0, entries(t));
      for (size_t i = 0; i < t.length; ++i) {
        if (!push_next(b, depth + 1, true) || !push_next(b, depth + 1, false)) return false;
        lua_rawset(L, -3);
      }
      return true;
    case MsgpackToken::kExt: break;
  }
  return fail(b, "MessagePack ext values are not supported");
}

}  // namespace

bool msgpack_decode(lua_State* L, const char* data, size_t size, std::string* error) {
  const int top = lua_gettop(L);
  Body body{L, MsgpackReader(data, size), error};
  bool ok = push_next(body, 0, false);
  if (ok && !body.reader.at_end()) {
    *error = "bytes after the MessagePack value (at byte " + std::to_string(body.reader.offset() + 1) + ")";
    ok = false;
  }
  if (!ok) lua_settop(L, top);
  return ok;
}

}  // namespace gilrun::cluster
