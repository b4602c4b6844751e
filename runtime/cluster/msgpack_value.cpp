// msgpack_value.cpp — msgpack_decode() (msgpack_value.h), on msgpack-c's
// object unpacker.
#include "cluster/msgpack_value.h"

#include <lua.hpp>
#include <msgpack.h>

namespace gilrun::cluster {
namespace {

constexpr int kMaxDepth = 200;

bool push(lua_State* L, const msgpack_object& o, int depth, std::string* error) {
  if (depth >= kMaxDepth || !lua_checkstack(L, 3)) {
    *error = "MessagePack body nested too deeply";
    return false;
  }
  switch (o.type) {
    case MSGPACK_OBJECT_NIL: lua_pushnil(L); return true;
    case MSGPACK_OBJECT_BOOLEAN: lua_pushboolean(L, o.via.boolean); return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
      if (o.via.u64 > static_cast<uint64_t>(LUA_MAXINTEGER)) lua_pushnumber(L, static_cast<lua_Number>(o.via.u64));
      else lua_pushinteger(L, static_cast<lua_Integer>(o.via.u64));
      return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: lua_pushinteger(L, static_cast<lua_Integer>(o.via.i64)); return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: lua_pushnumber(L, o.via.f64); return true;
    case MSGPACK_OBJECT_STR: lua_pushlstring(L, o.via.str.ptr, o.via.str.size); return true;
    case MSGPACK_OBJECT_BIN: lua_pushlstring(L, o.via.bin.ptr, o.via.bin.size); return true;
    case MSGPACK_OBJECT_ARRAY:
      lua_createtable(L, static_cast<int>(o.via.array.size), 0);
      for (uint32_t i = 0; i < o.via.array.size; ++i) {
        if (!push(L, o.via.array.ptr[i], depth + 1, error)) return false;
        lua_rawseti(L, -2, static_cast<lua_Integer>(i) + 1);
      }
      return true;
    case MSGPACK_OBJECT_MAP:
      lua_createtable(L, 0, static_cast<int>(o.via.map.size));
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack_object& k = o.via.map.ptr[i].key;
        if (k.type != MSGPACK_OBJECT_STR && k.type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
            k.type != MSGPACK_OBJECT_NEGATIVE_INTEGER) {
          *error = "MessagePack map key that is not a string or an integer";
          return false;
        }
        if (!push(L, k, depth + 1, error) || !push(L, o.via.map.ptr[i].val, depth + 1, error)) return false;
        lua_rawset(L, -3);
      }
      return true;
    default:
      *error = "MessagePack ext values are not supported";
      return false;
  }
}

}  // namespace

bool msgpack_decode(lua_State* L, const char* data, size_t size, std::string* error) {
  msgpack_unpacked result;
  msgpack_unpacked_init(&result);
  size_t offset = 0;
  const msgpack_unpack_return rc = msgpack_unpack_next(&result, data, size, &offset);
  bool ok = false;
  if (rc != MSGPACK_UNPACK_SUCCESS) {
    *error = rc == MSGPACK_UNPACK_CONTINUE ? "truncated MessagePack body" : "malformed MessagePack body";
  } else if (offset != size) {
    *error = "bytes after the MessagePack value (at byte " + std::to_string(offset + 1) + ")";
  } else {
    const int top = lua_gettop(L);
    ok = push(L, result.data, 0, error);
    if (!ok) lua_settop(L, top);
  }
  msgpack_unpacked_destroy(&result);
  return ok;
}

}  // namespace gilrun::cluster
