// decode.cpp — the value codec's decoder: decode_values() and
// decode_error() (value_codec.h). The bytes are read by the MessagePack
// reader and each function's bytecode is checked by the bytecode check
// (msgpack_reader.h, bytecode_check.h: the boundary for untrusted input);
// this file gives the tokens their meaning in a Lua state. The wire format
// and the safety rules are value_codec.cpp's notes.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <lua.hpp>

#include "codec/bytecode_check.h"
#include "codec/handles.h"
#include "codec/msgpack_reader.h"
#include "codec/shared.h"
#include "codec/value_codec.h"

namespace gilrun {
namespace {

using Token = MsgpackToken;

struct Cell {  // where an upvalue cell first appeared
  lua_Integer object;  // the function's object number + 1 (its objects slot)
  int upvalue;
};

struct Decoder {
  Decoder(lua_State* state, const char* data, size_t size) : L(state), reader(data, size) {}

  lua_State* const L;
  MsgpackReader reader;
  int objects_table = 0;     // stack slot of {object number + 1 -> object}
  lua_Integer objects = 0;   // how many objects so far
  std::vector<Cell> cells;
  int count = 0;
  std::string error;
  bool ok = false;
  bool out_of_memory = false;
  // decode_error(): the payload is [value, traceback], folded into one value.
  bool as_error = false;
  const std::string* origin = nullptr;
  std::string* traceback = nullptr;
};

bool malformed_at(Decoder& d, size_t at, const char* what) {
  char where[64];
  std::snprintf(where, sizeof where, "malformed value data at byte %zu: ", at);
  d.error.assign(where).append(what);
  return false;
}

// malformed() blames the token read last (or the one that failed to read).
bool malformed(Decoder& d, const char* what) { return malformed_at(d, d.reader.token_offset(), what); }

// read_token() reads the next token; a kBigUnsigned is no Lua integer.
bool read_token(Decoder& d, Token* t) {
  if (!d.reader.next(t)) return malformed(d, d.reader.problem());
  if (t->kind == Token::kBigUnsigned) return malformed(d, "integer out of range");
  return true;
}

// ext_number() reads the 4-byte object/cell number of a REF or CELL.
bool ext_number(Decoder& d, const Token& t, uint64_t* k) {
  if (t.length != 4) return malformed(d, "reference payload is not 4 bytes");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data);
  *k = (uint64_t(p[0]) << 24) | (uint64_t(p[1]) << 16) | (uint64_t(p[2]) << 8) | p[3];
  return true;
}

// ---- values

bool push_value(Decoder& d, const Token& t, int depth);

bool read_and_push_value(Decoder& d, int depth) {
  Token t;
  return read_token(d, &t) && push_value(d, t, depth);
}

void register_object(Decoder& d, int idx) {
  lua_pushvalue(d.L, idx);
  lua_rawseti(d.L, d.objects_table, ++d.objects);
}

bool enter_object(Decoder& d, int depth) {
  if (depth >= kMaxNesting) return malformed(d, "too deeply nested (more than 200 levels)");
  if (!lua_checkstack(d.L, kStackMargin)) return malformed(d, "Lua stack overflow");
  return true;
}

bool check_key(Decoder& d, int key) {
  if (lua_isnil(d.L, key)) return malformed(d, "table key is nil");
  if (lua_type(d.L, key) == LUA_TNUMBER && !lua_isinteger(d.L, key) &&
      std::isnan(lua_tonumber(d.L, key)))
    return malformed(d, "table key is NaN");
  return true;
}

bool push_table(Decoder& d, size_t entries, int depth) {
  if (!enter_object(d, depth)) return false;
  lua_State* L = d.L;
  lua_createtable(L, 0, 0);
  const int t = lua_gettop(L);
  register_object(d, t);
  for (size_t i = 0; i < entries; ++i) {
    if (!read_and_push_value(d, depth + 1) || !check_key(d, t + 1)) return false;
    if (!read_and_push_value(d, depth + 1)) return false;
    lua_rawset(L, t);
  }
  return true;
}

const char* read_chunk(lua_State*, void* ud, size_t* size) {
  Token* chunk = static_cast<Token*>(ud);
  *size = chunk->length;
  chunk->length = 0;
  return *size ? chunk->data : nullptr;
}

// load_bytecode() checks and loads a FUNCTION ext; pushes the function.
NOINLINE bool load_bytecode(Decoder& d, const Token& code, size_t upvalues_given) {
  size_t nupvalues = 0;
  const char* problem = nullptr;
  if (!check_bytecode(code.data, code.length, &nupvalues, &problem)) return malformed(d, problem);
  if (nupvalues != upvalues_given) return malformed(d, "function's upvalue count does not match its bytecode");
  Token chunk = code;
  if (lua_load(d.L, read_chunk, &chunk, "=(copied function)", "b") != LUA_OK) {
    malformed(d, "bad bytecode: ");
    d.error.append(lua_tostring(d.L, -1));
    lua_pop(d.L, 1);
    return false;
  }
  return true;
}

// push_upvalue() sets upvalue i of the function at f from the next entry.
bool push_upvalue(Decoder& d, int f, lua_Integer f_object, int i, int depth) {
  lua_State* L = d.L;
  Token t;
  if (!read_token(d, &t)) return false;
  if (t.kind == Token::kExt && t.ext_type == kExtEnv) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_setupvalue(L, f, i);
    return true;
  }
  if (t.kind == Token::kExt && t.ext_type == kExtCell) {
    uint64_t k = 0;
    if (!ext_number(d, t, &k)) return false;
    if (k >= d.cells.size()) return malformed(d, "reference to an upvalue not seen yet");
    const Cell cell = d.cells[static_cast<size_t>(k)];
    lua_rawgeti(L, d.objects_table, cell.object);
    lua_upvaluejoin(L, f, i, -1, cell.upvalue);
    lua_pop(L, 1);
    return true;
  }
  d.cells.push_back(Cell{f_object, i});
  if (!push_value(d, t, depth + 1)) return false;
  lua_setupvalue(L, f, i);
  return true;
}

bool push_function(Decoder& d, size_t elements, int depth) {
  if (!enter_object(d, depth)) return false;
  if (elements == 0) return malformed(d, "empty array (only functions are arrays)");
  Token code;
  if (!read_token(d, &code)) return false;
  if (code.kind != Token::kExt || code.ext_type != kExtFunction)
    return malformed(d, "array that is not a function");
  const size_t nupvalues = elements - 1;
  if (!load_bytecode(d, code, nupvalues)) return false;
  const int f = lua_gettop(d.L);
  register_object(d, f);
  const lua_Integer f_object = d.objects;
  for (size_t i = 1; i <= nupvalues; ++i)
    if (!push_upvalue(d, f, f_object, static_cast<int>(i), depth)) return false;
  return true;
}

bool push_reference(Decoder& d, const Token& t) {
  uint64_t k = 0;
  if (!ext_number(d, t, &k)) return false;
  if (k >= static_cast<uint64_t>(d.objects)) return malformed(d, "reference to an object not seen yet");
  lua_rawgeti(d.L, d.objects_table, static_cast<lua_Integer>(k) + 1);
  return true;
}

// push_module() pushes package.loaded[name], requiring it if needed.
NOINLINE bool push_module(Decoder& d, const Token& t) {
  lua_State* L = d.L;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) != LUA_TTABLE) {
    lua_pop(L, 1);  // a bare state (no standard libraries): found by the fuzzer
    return malformed(d, "a module, but this state has no package.loaded");
  }
  lua_pushlstring(L, t.data, t.length);
  if (lua_rawget(L, -2) == LUA_TTABLE) {
    lua_remove(L, -2);
    return true;
  }
  lua_pop(L, 2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  if (lua_getfield(L, -1, "require") != LUA_TFUNCTION) {
    lua_pop(L, 2);
    return malformed(d, "a module, but this state has no require");
  }
  lua_remove(L, -2);
  lua_pushlstring(L, t.data, t.length);
  lua_call(L, 1, 1);  // a missing module raises: decode_values reports it
  return true;
}

// push_handle() opens a HANDLE token through the state's opener.
NOINLINE bool push_handle(Decoder& d, const Token& t) {
  lua_State* L = d.L;
  if (lua_getfield(L, LUA_REGISTRYINDEX, kHandleOpenerKey) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return malformed(d, "a handle (e.g. a process queue), but this state cannot open handles");
  }
  lua_pushlstring(L, t.data, t.length);
  lua_call(L, 1, 2);
  if (lua_isnil(L, -2)) {
    d.error.assign("cannot open handle: ");
    d.error.append(lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown handle");
    return false;
  }
  lua_pop(L, 1);
  return true;
}

bool push_value(Decoder& d, const Token& t, int depth) {
  lua_State* L = d.L;
  switch (t.kind) {
    case Token::kNil: lua_pushnil(L); return true;
    case Token::kBoolean: lua_pushboolean(L, t.boolean); return true;
    case Token::kInteger: lua_pushinteger(L, t.integer); return true;
    case Token::kFloat: lua_pushnumber(L, t.number); return true;
    case Token::kString:
    case Token::kBinary: lua_pushlstring(L, t.data, t.length); return true;
    case Token::kMap: return push_table(d, t.length, depth);
    case Token::kArray: return push_function(d, t.length, depth);
    case Token::kBigUnsigned: break;  // read_token() refused it
    case Token::kExt:
      if (t.ext_type == kExtRef) return push_reference(d, t);
      if (t.ext_type == kExtHandle) return push_handle(d, t);
      if (t.ext_type == kExtModule) return push_module(d, t);
      if (t.ext_type == kExtEnv || t.ext_type == kExtCell)
        return malformed(d, "upvalue marker outside a function");
      if (t.ext_type == kExtFunction) return malformed(d, "bytecode outside a function array");
      return malformed(d, "unknown ext type");
  }
  return malformed(d, "unknown token");
}

// decode_all() pushes the payload's values above the objects table.
bool decode_all(Decoder& d) {
  lua_State* L = d.L;
  lua_createtable(L, 0, 0);
  d.objects_table = lua_gettop(L);
  Token t;
  if (!read_token(d, &t)) return false;
  if (t.kind != Token::kArray) return malformed(d, "expected the array of values");
  if (t.length > LUAI_MAXSTACK / 2 || !lua_checkstack(L, static_cast<int>(t.length) + kStackMargin))
    return malformed(d, "too many values");
  for (size_t i = 0; i < t.length; ++i)
    if (!read_and_push_value(d, 0)) return false;
  if (!d.reader.at_end()) return malformed_at(d, d.reader.offset(), "unexpected bytes after the values");
  d.count = static_cast<int>(t.length);
  return true;
}

// fold_error() turns a decoded error payload, [value, traceback] on the top,
// into the one value to raise (see "Errors") and keeps the traceback.
bool fold_error(Decoder& d) {
  lua_State* L = d.L;
  if (d.count != 2) return malformed(d, "an error must be a value and a traceback");
  const int traceback = lua_gettop(L);
  const int value = traceback - 1;
  if (!lua_isnil(L, traceback) && lua_type(L, traceback) != LUA_TSTRING)
    return malformed(d, "an error's traceback must be a string or nil");
  size_t len = 0;
  const char* text = lua_tolstring(L, traceback, &len);
  if (len > 0) {
    d.traceback->assign(text, len);  // may throw: decode_protected catches it
    if (lua_type(L, value) == LUA_TSTRING) {
      lua_pushvalue(L, value);
      lua_pushliteral(L, "\n");
      lua_pushlstring(L, d.origin->data(), d.origin->size());
      lua_pushvalue(L, traceback);
      lua_concat(L, 4);
      lua_replace(L, value);
    }
  }
  lua_settop(L, value);
  d.count = 1;
  return true;
}

// decode_protected(decoder) runs under lua_pcall; returns the values.
int decode_protected(lua_State* L) {
  Decoder& d = *static_cast<Decoder*>(lua_touserdata(L, 1));
  try {
    d.ok = decode_all(d) && (!d.as_error || fold_error(d));
  } catch (const std::exception&) {
    d.ok = false;
    d.out_of_memory = true;
  }
  return d.ok ? d.count : 0;
}

// decode_range() is decode_values() with a Decoder's options set by `setup`.
template <class Setup>
bool decode_range(lua_State* L, const char* data, size_t size, int* count, std::string* error,
                  Setup&& setup) {
  *count = 0;
  const int top = lua_gettop(L);
  try {
    if (!lua_checkstack(L, 2)) {
      *error = "cannot decode values: Lua stack overflow";
      return false;
    }
    Decoder decoder(L, data, size);
    setup(decoder);
    lua_pushcfunction(L, decode_protected);
    lua_pushlightuserdata(L, &decoder);
    const int status = lua_pcall(L, 1, LUA_MULTRET, 0);
    if (status != LUA_OK) {
      *error = std::string("cannot decode values: ") + lua_error_text(L);
      lua_settop(L, top);
      return false;
    }
    if (!decoder.ok) {
      lua_settop(L, top);
      *error = decoder.out_of_memory ? "cannot decode values: out of memory" : std::move(decoder.error);
      return false;
    }
    *count = lua_gettop(L) - top;
    return true;
  } catch (const std::exception&) {
    lua_settop(L, top);
    *error = "out of memory";
    return false;
  }
}

}  // namespace

bool decode_values(lua_State* L, const char* data, size_t size, int* count, std::string* error) {
  return decode_range(L, data, size, count, error, [](Decoder&) {});
}

bool decode_error(lua_State* L, const char* data, size_t size, const std::string& origin,
                  std::string* traceback, std::string* error) {
  traceback->clear();
  int count = 0;
  return decode_range(L, data, size, &count, error, [&](Decoder& d) {
    d.as_error = true;
    d.origin = &origin;
    d.traceback = traceback;
  });
}

}  // namespace gilrun
