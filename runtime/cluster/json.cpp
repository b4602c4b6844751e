// json.cpp — json_encode() and json_decode() (json.h): RFC 8259 text, as
// Python's json module reads and writes it (kombu's serializer for
// application/json). The encoder is ours (it walks Lua values, names the
// path of what cannot map, and writes Python's separators and float
// repr); the decoder — the side that reads what the network sends — is
// RapidJSON's reader feeding a small handler.
#include "cluster/json.h"

#include <lua.hpp>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace gilrun::cluster {
namespace {

constexpr int kMaxDepth = 200;

bool is_identifier(const char* s, size_t n) {
  if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

// utf8_length() is the length of the valid UTF-8 sequence at s, or 0.
size_t utf8_length(const unsigned char* s, size_t left) {
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  unsigned cp;
  if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
  else return 0;
  if (n > left) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

class Encoder {
 public:
  Encoder(lua_State* L, std::string* out, std::string* error) : L_(L), out_(out), error_(error) {}

  bool value(int index, std::string& path, int depth) {
    switch (lua_type(L_, index)) {
      case LUA_TNIL: out_->append("null"); return true;
      case LUA_TBOOLEAN: out_->append(lua_toboolean(L_, index) ? "true" : "false"); return true;
      case LUA_TNUMBER: return number(index, path);
      case LUA_TSTRING: {
        size_t n = 0;
        const char* s = lua_tolstring(L_, index, &n);
        return string(s, n, path);
      }
      case LUA_TTABLE: return table(index, path, depth);
      case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L_, index) == nullptr) {  // json.h's null
          out_->append("null");
          return true;
        }
        return fail(path, "light userdata");
      default: return fail(path, luaL_typename(L_, index));
    }
  }

 private:
  bool fail(const std::string& path, const std::string& why) {
    *error_ = "cannot send " + path + " as JSON: " + why;
    return false;
  }

  bool number(int index, const std::string& path) {
    char buffer[40];
    if (lua_isinteger(L_, index)) {
      std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(lua_tointeger(L_, index)));
      out_->append(buffer);
      return true;
    }
    const double d = lua_tonumber(L_, index);
    if (!std::isfinite(d)) return fail(path, std::isnan(d) ? "NaN" : "an infinity");
    // The shortest text that reads back as the same double, as Python's
    // repr writes floats (0.1, not 0.10000000000000001).
    for (int digits = 15; digits <= 17; ++digits) {
      std::snprintf(buffer, sizeof buffer, "%.*g", digits, d);
      if (std::strtod(buffer, nullptr) == d) break;
    }
    out_->append(buffer);
    if (std::strpbrk(buffer, ".eE") == nullptr) out_->append(".0");
    return true;
  }

  bool string(const char* s, size_t n, const std::string& path) {
    out_->push_back('"');
    const auto* u = reinterpret_cast<const unsigned char*>(s);
    for (size_t i = 0; i < n;) {
      const unsigned char c = u[i];
      if (c == '"' || c == '\\') {
        out_->push_back('\\');
        out_->push_back(static_cast<char>(c));
        ++i;
      } else if (c < 0x20) {
        char esc[8];
        switch (c) {
          case '\n': out_->append("\\n"); break;
          case '\r': out_->append("\\r"); break;
          case '\t': out_->append("\\t"); break;
          default: std::snprintf(esc, sizeof esc, "\\u%04x", c); out_->append(esc);
        }
        ++i;
      } else {
        const size_t len = utf8_length(u + i, n - i);
        if (len == 0) return fail(path, "a string that is not UTF-8 text (byte " + std::to_string(i + 1) + ")");
        out_->append(s + i, len);
        i += len;
      }
    }
    out_->push_back('"');
    return true;
  }

  bool table(int index, std::string& path, int depth) {
    if (depth >= kMaxDepth) return fail(path, "nested too deeply (a cycle?)");
    if (!lua_checkstack(L_, 4)) return fail(path, "nested too deeply");
    index = lua_absindex(L_, index);
    bool as_object = false;
    if (luaL_getmetafield(L_, index, "__json") != LUA_TNIL) {
      as_object = lua_type(L_, -1) == LUA_TSTRING && std::strcmp(lua_tostring(L_, -1), "object") == 0;
      lua_pop(L_, 1);
    }
    // Classify the keys: positive integers (an array, nil holes as null;
    // table.pack's "n" gives its length), or all strings (an object).
    size_t count = 0, strings = 0, ints = 0;
    lua_Integer max_key = 0, n_value = -1;
    lua_pushnil(L_);
    while (lua_next(L_, index) != 0) {
      ++count;
      if (lua_type(L_, -2) == LUA_TSTRING) {
        ++strings;
        if (std::strcmp(lua_tostring(L_, -2), "n") == 0 && lua_isinteger(L_, -1)) n_value = lua_tointeger(L_, -1);
      } else if (lua_isinteger(L_, -2) && lua_tointeger(L_, -2) >= 1) {
        ++ints;
        if (lua_tointeger(L_, -2) > max_key) max_key = lua_tointeger(L_, -2);
      } else {
        const std::string type = lua_isinteger(L_, -2) ? "non-positive integer" : luaL_typename(L_, -2);
        lua_pop(L_, 2);
        return fail(path, "a table with a " + type + " key");
      }
      lua_pop(L_, 1);
    }
    if (count == 0) {
      out_->append(as_object ? "{}" : "[]");
      return true;
    }
    const bool counted = strings == 1 && n_value >= 0 && (ints > 0 || n_value == 0);
    const size_t base = path.size();
    if (strings == 0 || counted) {
      const lua_Integer n = std::max(max_key, counted ? n_value : 0);
      if (static_cast<size_t>(n) > 2 * ints + 16) return fail(path, "a sparse array (too many holes)");
      out_->push_back('[');
      for (lua_Integer i = 1; i <= n; ++i) {
        if (i > 1) out_->append(", ");
        lua_rawgeti(L_, index, i);
        path += "[" + std::to_string(i) + "]";
        const bool ok = value(-1, path, depth + 1);
        path.resize(base);
        lua_pop(L_, 1);
        if (!ok) return false;
      }
      out_->push_back(']');
      return true;
    }
    if (strings != count) return fail(path, "a table with both sequence and string keys");
    out_->push_back('{');
    bool first = true;
    lua_pushnil(L_);
    while (lua_next(L_, index) != 0) {
      size_t kn = 0;
      const char* k = lua_tolstring(L_, -2, &kn);
      if (!first) out_->append(", ");
      first = false;
      if (is_identifier(k, kn)) {
        path += ".";
        path.append(k, kn);
      } else {
        path += "[\"";
        path.append(k, kn);
        path += "\"]";
      }
      bool ok = string(k, kn, path);
      if (ok) {
        out_->append(": ");
        ok = value(-1, path, depth + 1);
      }
      path.resize(base);
      lua_pop(L_, 1);
      if (!ok) {
        lua_pop(L_, 1);
        return false;
      }
    }
    out_->push_back('}');
    return true;
  }

  lua_State* L_;
  std::string* out_;
  std::string* error_;
};

// Decoding is RapidJSON's SAX reader (Debian's rapidjson-dev), iterative
// so deep input cannot exhaust the C stack; this handler builds the Lua
// value on the Lua stack as the events come: a container is a table on the
// stack, a finished value is stored into the container under it (an
// array's next index, or the key pushed by Key()), and a null simply
// leaves its slot empty.
class LuaBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, LuaBuilder> {
 public:
  explicit LuaBuilder(lua_State* L) : L_(L) {}

  bool too_deep() const { return too_deep_; }

  bool Null() { lua_pushnil(L_); return stored(); }
  bool Bool(bool b) { lua_pushboolean(L_, b); return stored(); }
  bool Int(int i) { lua_pushinteger(L_, i); return stored(); }
  bool Uint(unsigned u) { lua_pushinteger(L_, static_cast<lua_Integer>(u)); return stored(); }
  bool Int64(int64_t i) { lua_pushinteger(L_, static_cast<lua_Integer>(i)); return stored(); }
  bool Uint64(uint64_t u) {  // past int64: a float, as Lua reads such a literal
    if (u <= static_cast<uint64_t>(LUA_MAXINTEGER)) lua_pushinteger(L_, static_cast<lua_Integer>(u));
    else lua_pushnumber(L_, static_cast<lua_Number>(u));
    return stored();
  }
  bool Double(double d) { lua_pushnumber(L_, d); return stored(); }
  bool String(const char* s, rapidjson::SizeType n, bool) { lua_pushlstring(L_, s, n); return stored(); }
  bool Key(const char* s, rapidjson::SizeType n, bool) { lua_pushlstring(L_, s, n); return true; }
  bool StartObject() { return open(false); }
  bool StartArray() { return open(true); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }

 private:
  struct Open {
    bool array;
    lua_Integer next;  // an array's next index
  };

  bool open(bool array) {
    if (open_.size() >= kMaxDepth || !lua_checkstack(L_, 3)) {
      too_deep_ = true;
      return false;
    }
    lua_newtable(L_);
    open_.push_back(Open{array, 1});
    return true;
  }
  bool close() {
    open_.pop_back();
    return stored();
  }
  // stored() puts the value on top into the container under it (the root
  // stays on the stack).
  bool stored() {
    if (open_.empty()) return true;
    Open& parent = open_.back();
    if (parent.array) lua_rawseti(L_, -2, parent.next++);
    else lua_rawset(L_, -3);
    return true;
  }

  lua_State* L_;
  std::vector<Open> open_;
  bool too_deep_ = false;
};

}  // namespace

bool json_encode(lua_State* L, int index, const char* root, std::string* out, std::string* error) {
  const int top = lua_gettop(L);
  std::string path = root;
  Encoder encoder(L, out, error);
  const bool ok = encoder.value(lua_absindex(L, index), path, 0);
  lua_settop(L, top);
  return ok;
}

bool json_decode(lua_State* L, const char* data, size_t size, std::string* error) {
  const int top = lua_gettop(L);
  LuaBuilder builder(L);
  rapidjson::Reader reader;
  rapidjson::MemoryStream in(data, size);
  constexpr unsigned kFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag | rapidjson::kParseValidateEncodingFlag;
  const rapidjson::ParseResult ok = reader.Parse<kFlags>(in, builder);
  if (ok) return true;
  lua_settop(L, top);
  *error = "bad JSON at byte " + std::to_string(ok.Offset() + 1) + ": " +
           (builder.too_deep() ? "nested too deeply" : rapidjson::GetParseError_En(ok.Code()));
  return false;
}

}  // namespace gilrun::cluster
