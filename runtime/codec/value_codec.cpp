// value_codec.cpp — see value_codec.h.
//
// Wire format
// ===========
// MessagePack (https://msgpack.org/). One payload is ONE msgpack array that
// holds the values in stack order:
//
//   payload  = array(count) of value
//   value    = nil | false | true
//            | int           a Lua integer (any msgpack int format on decode;
//                            a uint64 above 2^63-1 is rejected)
//            | float 64      a Lua float: always float64, so 3.0 stays a float
//                            (float 32 is accepted on decode)
//            | str           a Lua string, raw bytes, zeros included (bin is
//                            accepted on decode)
//            | table | function | ref
//   table    = map(n) of (key value, value value)         a new object
//   function = array(1+n) [ext FUNCTION, upvalue 1 .. upvalue n]
//                                                          a new object
//   upvalue  = value         a fresh upvalue cell holding that value
//            | ext ENV       `_ENV` that is the source's global table: the
//                            destination's global table
//            | ext CELL      the same cell as an upvalue met earlier
//   ref      = ext REF       an object met earlier
//
//   | ext type | name     | payload                             | allowed in      |
//   |----------|----------|-------------------------------------|-----------------|
//   | 1        | REF      | 4 bytes, big-endian object number k | any value       |
//   | 2        | FUNCTION | lua_dump bytecode, debug info kept  | function[1]     |
//   | 3        | ENV      | empty                               | upvalue entries |
//   | 4        | CELL     | 4 bytes, big-endian cell number k   | upvalue entries |
//   | 5        | HANDLE   | the handle's token (bytes)          | any value       |
//   | 6        | MODULE   | the module's name (package.loaded)  | any value       |
//
// Arrays are only functions (the encoder writes every table as a map). Table
// keys are never nil or NaN. Nothing may follow the payload's array.
//
// Example: `local function fib(n) ... fib(n-1) ... end`, alone (~230 bytes):
//   91                    array(1): one value
//   92                    array(2): a function (object 0) with one upvalue
//   c7 de 02 1b 4c ...    ext 8 of 0xde bytes, FUNCTION: "\x1bLua..." bytecode
//   d6 01 00 00 00 00     fixext 4 REF 0: upvalue `fib` is object 0, itself
//
// Reference scheme
// ----------------
// Objects — tables and functions — are numbered 0, 1, 2, ... in the order
// their map or array header appears in the payload: depth first, pre-order
// (an object is numbered before its contents, a table key before its value).
// The encoder numbers an object the first time it meets it (by
// lua_topointer) and writes REF k every later time; the decoder registers an
// object as soon as it has created it, before decoding its contents. So a
// table reached twice decodes to one table, `t.self = t` decodes to a table
// containing itself, and the everyday recursive `local function fib(n) ...
// fib(n-1) ... end` — whose upvalue `fib` is the function itself — decodes to
// a function whose upvalue is that same function.
//
// Upvalue cells (lua_upvalueid) are numbered the same way, in their own
// sequence. A cell met again is written CELL k and the decoder joins the two
// upvalues (lua_upvaluejoin), so closures that shared a local still share it.
// An upvalue named `_ENV` (dumps keep upvalue names) whose value is the
// source's global table (LUA_RIDX_GLOBALS) is never copied: it becomes the
// destination's global table. Any other `_ENV` — the table a sandbox gave
// `load`, a module's private environment — is an ordinary upvalue and is
// copied as the table it is, so a sandboxed function stays sandboxed (issue
// 12, item 12: it used to get the destination's globals).
//
// Not copied: metatables (a copied table has none) and identity across
// separate payloads (each payload numbers its objects afresh). A function
// loaded from stripped bytecode has no upvalue names, so its `_ENV` is
// always an ordinary upvalue (the source's global table is
// package.loaded._G, so it crosses as a MODULE: see below).
//
// Modules
// -------
// A table that is a loaded module — a value of package.loaded, such as the
// `process` in `local process = require "process"`, or `string`, or `_G` —
// is not copied (it is full of C functions): it crosses as MODULE name and
// the decoder gives the destination's own package.loaded[name], requiring it
// if it is not loaded yet. So a function whose upvalue is a module works in
// the child, with the child's module.
//
// Handles
// -------
// A userdata whose metatable has a `__gilrun_handle` C function crosses as a
// HANDLE: the encoder calls that function with the userdata and writes the
// string it returns (or fails with "cannot copy <path>: <its second result>"
// when it returns nil). The decoder passes the token to the function stored
// at registry["gilrun.handle_opener"], which returns the value or nil and a
// reason; a state without an opener rejects handles. This is how a process
// queue crosses to a child: its token names descriptors the child inherited
// (bindings/process_queue.cpp). Handles are not numbered objects: a handle
// met twice decodes to two userdata wrapping the same resource.
//
// Errors
// ------
// A failed call in another VM (a process.spawn child, a pool task, an
// isolated thread) sends back its error as an error payload, encoded by
// encode_error() and decoded by decode_error() — the one mechanism for all
// three:
//
//   error payload = array(2) [value, traceback]
//   value      the error value, copied like any value; a string error is its
//              message without the traceback. A value that cannot cross is
//              replaced by a string: its `__tostring` text (computed in the
//              source, under protection), else "(error object is a table
//              value: cannot copy error.conn: userdata)".
//   traceback  str "stack traceback:\n..." taken where the error was raised
//              (protected_call.h keeps it for non-string errors), or nil.
//
// decode_error() pushes the value to raise: a string with a traceback gets
// it appended after `origin` (so a string error reads as before: "file:1:
// boom\nchild process 4242 stack traceback: ..."); any other value is raised
// as itself (metatables do not cross, so a table arrives as its fields) and
// the traceback is handed back beside it for the handle's :traceback().
//
// Rejected, as "cannot copy <path>: <what>": other userdata, light userdata,
// coroutine, C function, a function whose upvalue is one of those, nesting
// deeper than 200 levels, a string or function of 4 GiB or more.
//
// Paths
// -----
// `root[i]` for the i-th value, then per step: `[n]` for an integer key,
// `.name` for an identifier-like string key (not a reserved word),
// `["other key"]` for other strings (escaped, cut after 40 bytes),
// `[1.5]` / `[true]` / `[<table>]` for other keys, ` (a table key)` when the
// key itself cannot cross, ` (upvalue 'name')` for a function's upvalue:
//   cannot copy args[2].conn: userdata
//   cannot copy args[1] (upvalue 'cfg').conn: userdata
//
// Safety
// ------
// Debian's liblua5.4 is C: a Lua error is a longjmp that skips C++
// destructors. So all Lua work runs inside lua_pcall of a C function
// (encode_protected / decode_protected) that gets its context through a light
// userdata; every C++ object lives in that context, owned by the unprotected
// caller, and no function below the pcall keeps an automatic object with a
// destructor. C++ exceptions (std::bad_alloc from a string or map) are caught
// inside the protected function, before they could reach Lua's C frames; the
// callbacks that C code calls (msgpack's writer, lua_dump's writer) never
// throw, they report failure by return value.
//
// Decoding is the boundary for untrusted input, and its two parts that need
// no Lua state have files of their own, which the fuzzer (tests/fuzz/)
// targets: the MessagePack reader (msgpack_reader.h: every declared length is
// checked against the input left, so 5 bytes cannot ask for 100 GB as they
// can of msgpack_unpack) and the bytecode check (bytecode_check.h: walks a
// chunk as lundump.c reads it before lua_load sees it, because lundump
// allocates every vector's declared size before reading it and recurses
// without a limit). Nesting stops at kMaxNesting (200, for encoding too).
// Bytecode is NOT verified for safe execution (Lua 5.4 has no verifier):
// decode only payloads a gilrun peer encoded.
//
// The encoder stops the source state's GC while it walks: the count of a
// table's pairs must still hold when the pairs are written, and a GC cycle
// can clear weak table entries in between.
#include "codec/value_codec.h"

#include "codec/bytecode_check.h"
#include "codec/msgpack_reader.h"

#include <msgpack.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <unordered_map>
#include <vector>

#include <lua.hpp>

namespace gilrun {
namespace {

// Helpers with buffers stay out of the recursive frames: a nesting level
// costs the C stack about one encode_value / push_value frame.
#define NOINLINE __attribute__((noinline))

constexpr int kMaxNesting = 200;   // tables/functions inside each other
constexpr int kStackMargin = 8;    // Lua stack slots one nesting level needs
constexpr size_t kMaxKeyShown = 40;

constexpr int8_t kExtRef = 1;
constexpr int8_t kExtFunction = 2;
constexpr int8_t kExtEnv = 3;
constexpr int8_t kExtCell = 4;
constexpr int8_t kExtHandle = 5;
constexpr int8_t kExtModule = 6;

// ===================================================================== encoding

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
  if (luaL_getmetafield(L, idx, "__gilrun_handle") == LUA_TNIL) return cannot_copy(e, "userdata");
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

// ===================================================================== decoding

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
  if (lua_getfield(L, LUA_REGISTRYINDEX, "gilrun.handle_opener") != LUA_TFUNCTION) {
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

// lua_error_text() is the message of a failed pcall: a memory or stack
// error, always a string (never converted here: that could raise).
const char* lua_error_text(lua_State* L) {
  if (lua_type(L, -1) != LUA_TSTRING) return "(error object is not a string)";
  return lua_tostring(L, -1);
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

// ===================================================================== API

bool encode_values(lua_State* L, int first, int count, const char* root, std::string* out,
                   std::string* error) {
  return encode_range(L, first, count, root, out, error, [](Encoder&) {});
}

bool decode_values(lua_State* L, const char* data, size_t size, int* count, std::string* error) {
  return decode_range(L, data, size, count, error, [](Decoder&) {});
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

bool copy_values(lua_State* from, int first, int count, lua_State* to, const char* root,
                 std::string* error) {
  std::string bytes;
  int decoded = 0;
  return encode_values(from, first, count, root, &bytes, error) &&
         decode_values(to, bytes.data(), bytes.size(), &decoded, error);
}

}  // namespace gilrun
