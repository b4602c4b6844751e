// encode.cpp — the value codec's encoder: encode_values(), encode_error()
// and encode_error_message() (value_codec.h). The wire format, the reference
// scheme, paths and the safety rules are value_codec.cpp's notes.
#include <msgpack.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <unordered_map>

#include <lua.hpp>

#include "codec/handles.h"
#include "codec/shared.h"
#include "codec/value_codec.h"

namespace gilrun {
namespace {

constexpr size_t kMaxKeyShown = 40;

// Packer appends msgpack to a std::string through msgpack-c's packer. The
// write callback is called from msgpack's C code and never throws; a failed
// write becomes std::bad_alloc here, in our own frames.
class Packer {
 public:
  explicit Packer(std::string* out) { msgpack_packer_init(&packer_, out, &append); }

  void nil() { check(msgpack_pack_nil(&packer_)); }
  void boolean(bool b) { check(b ? msgpack_pack_true(&packer_) : msgpack_pack_false(&packer_)); }
  void integer(lua_Integer i) { check(msgpack_pack_int64(&packer_, i)); }
  void number(lua_Number n) { check(msgpack_pack_double(&packer_, n)); }
  void string(const char* s, size_t len) { check(msgpack_pack_str_with_body(&packer_, s, len)); }
  void map(uint32_t n) { check(msgpack_pack_map(&packer_, n)); }
  void array(uint32_t n) { check(msgpack_pack_array(&packer_, n)); }
  void ext(int8_t type, const char* data, size_t len) {
    check(msgpack_pack_ext_with_body(&packer_, data, len, type));
  }
  void ext_number(int8_t type, uint32_t k) {
    const char be[4] = {char(k >> 24), char(k >> 16), char(k >> 8), char(k)};
    ext(type, be, sizeof be);
  }

 private:
  static int append(void* data, const char* buf, size_t len) noexcept {
    try {
      static_cast<std::string*>(data)->append(buf, len);
      return 0;
    } catch (...) {
      return -1;
    }
  }
  static void check(int status) {
    if (status != 0) throw std::bad_alloc();
  }

  msgpack_packer packer_;
};

struct Encoder {
  Encoder(lua_State* state, const char* root_name, int value_count, std::string* out)
      : L(state), root(root_name), count(value_count), packer(out) {}

  lua_State* const L;
  const char* const root;
  const int count;
  const std::string* trailer = nullptr;  // an error's traceback: written after the values
  bool indexed = true;                   // root[i] in paths, or just root
  Packer packer;
  std::unordered_map<const void*, uint32_t> objects;  // table/function -> number
  std::unordered_map<const void*, uint32_t> cells;    // upvalue id -> number
  std::unordered_map<const void*, std::string> modules;  // package.loaded, by table
  bool modules_listed = false;
  std::string path;      // of the value being encoded
  std::string bytecode;  // lua_dump scratch
  std::string error;     // "cannot copy <path>: <what>"
  bool ok = false;
  bool out_of_memory = false;
};

bool encode_value(Encoder& e, int idx, int depth);

bool cannot_copy(Encoder& e, const char* what) {
  e.error.assign("cannot copy ").append(e.path).append(": ").append(what);
  return false;
}

// ---- paths

bool is_reserved_word(const char* s) {
  static const char* const kWords[] = {
      "and",  "break", "do",     "else", "elseif", "end",   "false", "for",
      "function", "goto", "if", "in", "local", "nil", "not", "or",
      "repeat", "return", "then", "true", "until", "while"};
  for (const char* word : kWords)
    if (std::strcmp(s, word) == 0) return true;
  return false;
}

bool is_identifier(const char* s, size_t len) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (len == 0 || !letter(s[0]) || std::strlen(s) != len) return false;
  for (size_t i = 1; i < len; ++i)
    if (!letter(s[i]) && !digit(s[i])) return false;
  return !is_reserved_word(s);
}

NOINLINE void append_quoted(std::string& path, const char* s, size_t len) {
  path.append("[\"");
  const size_t shown = len > kMaxKeyShown ? kMaxKeyShown : len;
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      path.push_back('\\');
      path.push_back(char(c));
    } else if (c == '\n') {
      path.append("\\n");
    } else if (c >= 0x20 && c < 0x7f) {
      path.push_back(char(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%u", unsigned(c));
      path.append(buf);
    }
  }
  if (shown < len) path.append("...");
  path.append("\"]");
}

NOINLINE void append_index(std::string& path, lua_Integer i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "[" LUA_INTEGER_FMT "]", static_cast<LUAI_UACINT>(i));
  path.append(buf);
}

// append_key_step() appends the step to the value under the key at `key`.
// It never converts the key in place (that would confuse lua_next).
NOINLINE void append_key_step(std::string& path, lua_State* L, int key) {
  switch (lua_type(L, key)) {
    case LUA_TNUMBER:
      if (lua_isinteger(L, key)) {
        append_index(path, lua_tointeger(L, key));
      } else {
        char buf[48];
        std::snprintf(buf, sizeof buf, "[%.14g]", static_cast<double>(lua_tonumber(L, key)));
        path.append(buf);
      }
      return;
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, key, &len);
      if (is_identifier(s, len)) {
        path.append(".").append(s, len);
      } else {
        append_quoted(path, s, len);
      }
      return;
    }
    case LUA_TBOOLEAN:
      path.append(lua_toboolean(L, key) ? "[true]" : "[false]");
      return;
    default:
      path.append("[<").append(luaL_typename(L, key)).append(">]");
  }
}

// ---- values

bool encode_string(Encoder& e, int idx) {
  size_t len = 0;
  const char* s = lua_tolstring(e.L, idx, &len);
  if (len > UINT32_MAX) return cannot_copy(e, "string too long (4 GiB or more)");
  e.packer.string(s, len);
  return true;
}

size_t count_pairs(lua_State* L, int t) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pop(L, 1);
    ++n;
  }
  return n;
}

bool encode_key(Encoder& e, int key, int depth) {
  const size_t mark = e.path.size();
  e.path.append(" (a table key)");
  const bool ok = encode_value(e, key, depth + 1);
  e.path.resize(mark);
  return ok;
}

bool encode_entry(Encoder& e, int key, int value, int depth) {
  const size_t mark = e.path.size();
  append_key_step(e.path, e.L, key);
  const bool ok = encode_value(e, value, depth + 1);
  e.path.resize(mark);
  return ok;
}

bool encode_table(Encoder& e, int t, int depth) {
  lua_State* L = e.L;
  const size_t n = count_pairs(L, t);
  if (n > UINT32_MAX) return cannot_copy(e, "table too large");
  e.packer.map(static_cast<uint32_t>(n));
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    const int key = lua_gettop(L) - 1;
    if (!encode_key(e, key, depth) || !encode_entry(e, key, key + 1, depth)) {
      lua_pop(L, 2);
      return false;
    }
    lua_pop(L, 1);
  }
  return true;
}

int count_upvalues(lua_State* L, int f) {
  int n = 0;
  while (lua_getupvalue(L, f, n + 1) != nullptr) {
    lua_pop(L, 1);
    ++n;
  }
  return n;
}

// write_bytecode() is lua_dump's writer: called from C, so it never throws.
int write_bytecode(lua_State*, const void* p, size_t size, void* ud) noexcept {
  try {
    static_cast<Encoder*>(ud)->bytecode.append(static_cast<const char*>(p), size);
    return 0;
  } catch (...) {
    return 1;
  }
}

NOINLINE bool dump_bytecode(Encoder& e, int f) {
  e.bytecode.clear();
  lua_pushvalue(e.L, f);
  const int status = lua_dump(e.L, write_bytecode, &e, /*strip=*/0);
  lua_pop(e.L, 1);
  if (status != 0) throw std::bad_alloc();  // only the writer can fail
  if (e.bytecode.size() > UINT32_MAX) return cannot_copy(e, "function too large");
  return true;
}

// encode_upvalue() writes upvalue i of the function at f: ENV, CELL k, or
// its value. The stack is as it was when it returns true.
bool encode_upvalue(Encoder& e, int f, int i, int depth) {
  lua_State* L = e.L;
  const char* name = lua_getupvalue(L, f, i);  // pushes the value
  if (std::strcmp(name, "_ENV") == 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    const bool globals = lua_rawequal(L, -1, -2) != 0;
    lua_pop(L, 1);
    if (globals) {  // else a sandbox's table: copied as it is
      lua_pop(L, 1);
      e.packer.ext(kExtEnv, "", 0);
      return true;
    }
  }
  const void* cell = lua_upvalueid(L, f, i);
  const auto found = e.cells.find(cell);
  if (found != e.cells.end()) {
    lua_pop(L, 1);
    e.packer.ext_number(kExtCell, found->second);
    return true;
  }
  e.cells.emplace(cell, static_cast<uint32_t>(e.cells.size()));
  const size_t mark = e.path.size();
  e.path.append(" (upvalue '").append(name).append("')");
  const bool ok = encode_value(e, lua_gettop(L), depth + 1);
  e.path.resize(mark);
  lua_pop(L, 1);
  return ok;
}

bool encode_function(Encoder& e, int f, int depth) {
  const int n = count_upvalues(e.L, f);
  if (!dump_bytecode(e, f)) return false;
  e.packer.array(static_cast<uint32_t>(1 + n));
  e.packer.ext(kExtFunction, e.bytecode.data(), e.bytecode.size());
  for (int i = 1; i <= n; ++i)
    if (!encode_upvalue(e, f, i, depth)) return false;
  return true;
}

// module_name() is the package.loaded name of the table at idx, or null.
NOINLINE const std::string* module_name(Encoder& e, int idx) {
  lua_State* L = e.L;
  if (!e.modules_listed) {
    e.modules_listed = true;
    if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1))
          e.modules.emplace(lua_topointer(L, -1), lua_tostring(L, -2));
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  const auto found = e.modules.find(lua_topointer(L, idx));
  return found == e.modules.end() ? nullptr : &found->second;
}

// encode_object() writes a table or Lua function: REF k if it was met
// before, else numbers it and writes it whole.
bool encode_object(Encoder& e, int idx, int depth) {
  lua_State* L = e.L;
  if (lua_iscfunction(L, idx)) return cannot_copy(e, "C function");
  if (lua_istable(L, idx)) {
    if (const std::string* name = module_name(e, idx)) {
      e.packer.ext(kExtModule, name->data(), name->size());
      return true;
    }
  }
  const void* id = lua_topointer(L, idx);
  const auto found = e.objects.find(id);
  if (found != e.objects.end()) {
    e.packer.ext_number(kExtRef, found->second);
    return true;
  }
  if (depth >= kMaxNesting) return cannot_copy(e, "too deeply nested (more than 200 levels)");
  if (!lua_checkstack(L, kStackMargin)) return cannot_copy(e, "Lua stack overflow");
  e.objects.emplace(id, static_cast<uint32_t>(e.objects.size()));
  return lua_istable(L, idx) ? encode_table(e, idx, depth) : encode_function(e, idx, depth);
}

// encode_handle() writes a userdata that declares a handle (see "Handles").
// The handle function may raise: the encoder's pcall reports that.
NOINLINE bool encode_handle(Encoder& e, int idx) {
  lua_State* L = e.L;
  if (luaL_getmetafield(L, idx, kHandleMetafield) == LUA_TNIL) return cannot_copy(e, "userdata");
  if (!lua_iscfunction(L, -1)) {
    lua_pop(L, 1);
    return cannot_copy(e, "userdata");
  }
  lua_pushvalue(L, idx);
  lua_call(L, 1, 2);
  if (lua_type(L, -2) != LUA_TSTRING) {
    const bool has_reason = lua_type(L, -1) == LUA_TSTRING;
    cannot_copy(e, has_reason ? lua_tostring(L, -1) : "userdata");
    lua_pop(L, 2);
    return false;
  }
  size_t len = 0;
  const char* token = lua_tolstring(L, -2, &len);
  if (len > UINT32_MAX) return cannot_copy(e, "handle too long");
  e.packer.ext(kExtHandle, token, len);
  lua_pop(L, 2);
  return true;
}

bool encode_value(Encoder& e, int idx, int depth) {
  lua_State* L = e.L;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      e.packer.nil();
      return true;
    case LUA_TBOOLEAN:
      e.packer.boolean(lua_toboolean(L, idx) != 0);
      return true;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        e.packer.integer(lua_tointeger(L, idx));
      } else {
        e.packer.number(lua_tonumber(L, idx));
      }
      return true;
    case LUA_TSTRING:
      return encode_string(e, idx);
    case LUA_TTABLE:
    case LUA_TFUNCTION:
      return encode_object(e, idx, depth);
    case LUA_TLIGHTUSERDATA:
      return cannot_copy(e, "light userdata");
    case LUA_TUSERDATA:
      return encode_handle(e, idx);
    case LUA_TTHREAD:
      return cannot_copy(e, "coroutine");
    default:
      return cannot_copy(e, luaL_typename(L, idx));
  }
}

// encode_all() writes the payload: the values are at stack slots 2..count+1.
bool encode_all(Encoder& e) {
  e.packer.array(static_cast<uint32_t>(e.count + (e.trailer ? 1 : 0)));
  for (int i = 1; i <= e.count; ++i) {
    e.path.assign(e.root);
    if (e.indexed) append_index(e.path, i);
    if (!encode_value(e, i + 1, 0)) return false;
  }
  if (e.trailer != nullptr) {
    if (e.trailer->empty()) {
      e.packer.nil();
    } else {
      if (e.trailer->size() > UINT32_MAX) return cannot_copy(e, "traceback too long");
      e.packer.string(e.trailer->data(), e.trailer->size());
    }
  }
  return true;
}

// encode_protected(encoder, values...) runs under lua_pcall.
int encode_protected(lua_State* L) {
  Encoder& e = *static_cast<Encoder*>(lua_touserdata(L, 1));
  try {
    e.ok = encode_all(e);
  } catch (const std::exception&) {
    e.ok = false;
    e.out_of_memory = true;
  }
  return 0;
}

// tostring_protected(out, value) runs under lua_pcall: the value's
// __tostring text into *out (left empty when it has no __tostring).
int tostring_protected(lua_State* L) {
  auto* out = static_cast<std::string*>(lua_touserdata(L, 1));
  if (luaL_getmetafield(L, 2, "__tostring") == LUA_TNIL) return 0;
  lua_pop(L, 1);
  size_t len = 0;
  const char* text = luaL_tolstring(L, 2, &len);  // raises unless __tostring gives a string
  try {
    out->assign(text, len);
  } catch (...) {
    out->clear();
  }
  return 0;
}

// encode_range() is encode_values() with an Encoder's options set by `setup`.
template <class Setup>
bool encode_range(lua_State* L, int first, int count, const char* root, std::string* out,
                  std::string* error, Setup&& setup) {
  out->clear();
  const int top = lua_gettop(L);
  if (root == nullptr) root = "value";
  try {
    if (count > 0) first = lua_absindex(L, first);
    if (count < 0 || (count > 0 && (first < 1 || first + count - 1 > top))) {
      *error = "encode_values: stack range out of bounds";
      return false;
    }
    if (count >= LUAI_MAXSTACK / 2 || !lua_checkstack(L, count + 2)) {
      *error = "cannot copy values: too many values";
      return false;
    }
    Encoder encoder(L, root, count, out);
    setup(encoder);
    const bool gc_was_running = lua_gc(L, LUA_GCISRUNNING) == 1;
    lua_gc(L, LUA_GCSTOP);
    lua_pushcfunction(L, encode_protected);
    lua_pushlightuserdata(L, &encoder);
    for (int i = 0; i < count; ++i) lua_pushvalue(L, first + i);
    const int status = lua_pcall(L, count + 1, 0, 0);
    if (gc_was_running) lua_gc(L, LUA_GCRESTART);
    if (status != LUA_OK) {
      out->clear();
      *error = std::string("cannot copy values: ") + lua_error_text(L);
      lua_settop(L, top);
      return false;
    }
    if (!encoder.ok) {
      out->clear();
      *error = encoder.out_of_memory ? "cannot copy values: out of memory" : std::move(encoder.error);
      return false;
    }
    return true;
  } catch (const std::exception&) {
    lua_settop(L, top);
    out->clear();
    *error = "out of memory";
    return false;
  }
}

}  // namespace

bool encode_values(lua_State* L, int first, int count, const char* root, std::string* out,
                   std::string* error) {
  return encode_range(L, first, count, root, out, error, [](Encoder&) {});
}

bool encode_error_message(const std::string& message, const std::string& traceback,
                          std::string* out) {
  try {
    out->clear();
    Packer packer(out);
    packer.array(2);
    packer.string(message.data(), message.size() > UINT32_MAX ? UINT32_MAX : message.size());
    if (traceback.empty()) {
      packer.nil();
    } else {
      packer.string(traceback.data(), traceback.size() > UINT32_MAX ? UINT32_MAX : traceback.size());
    }
    return true;
  } catch (const std::exception&) {
    out->clear();
    return false;
  }
}

bool encode_error(lua_State* L, int idx, const std::string& traceback, std::string* out) {
  idx = lua_absindex(L, idx);
  try {
    if (lua_type(L, idx) == LUA_TSTRING) {  // "message\nstack traceback:..." (protected_call)
      size_t len = 0;
      const char* s = lua_tolstring(L, idx, &len);
      const std::string text(s, len);
      const size_t split = text.find("\nstack traceback:");
      if (split == std::string::npos) return encode_error_message(text, traceback, out);
      return encode_error_message(text.substr(0, split), text.substr(split + 1), out);
    }
    std::string why;
    if (encode_range(L, idx, 1, "error", out, &why, [&](Encoder& e) {
          e.trailer = &traceback;
          e.indexed = false;
        }))
      return true;
    // It cannot cross: its __tostring text, computed here, or what it was.
    std::string text;
    if (lua_checkstack(L, 3)) {
      lua_pushcfunction(L, tostring_protected);
      lua_pushlightuserdata(L, &text);
      lua_pushvalue(L, idx);
      if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        text.clear();
        why += " (and its __tostring failed)";
      }
    }
    if (text.empty())
      text = std::string("(error object is a ") + luaL_typename(L, idx) + " value: " + why + ")";
    return encode_error_message(text, traceback, out);
  } catch (const std::exception&) {
    return encode_error_message("out of memory", "", out);
  }
}

}  // namespace gilrun
