// json.cpp — json_encode() and json_decode() (json.h): RFC 8259 text, as
// Python's json module reads and writes it (kombu's serializer for
// application/json).
#include "cluster/json.h"

#include <lua.hpp>

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
    std::snprintf(buffer, sizeof buffer, "%.17g", d);
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

class Decoder {
 public:
  Decoder(lua_State* L, const char* data, size_t size, std::string* error)
      : L_(L), p_(data), begin_(data), end_(data + size), error_(error) {}

  bool document() {
    const int top = lua_gettop(L_);
    skip();
    if (!value(0)) {
      lua_settop(L_, top);
      return false;
    }
    skip();
    if (p_ != end_) {
      lua_settop(L_, top);
      return fail("text after the value");
    }
    return true;
  }

 private:
  bool fail(const char* why) {
    *error_ = "bad JSON at byte " + std::to_string(p_ - begin_ + 1) + ": " + why;
    return false;
  }
  void skip() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return fail("unexpected text");
    p_ += n;
    return true;
  }

  bool value(int depth) {
    if (depth >= kMaxDepth || !lua_checkstack(L_, 3)) return fail("nested too deeply");
    if (p_ >= end_) return fail("unexpected end");
    switch (*p_) {
      case 'n': if (!literal("null")) return false; lua_pushnil(L_); return true;
      case 't': if (!literal("true")) return false; lua_pushboolean(L_, 1); return true;
      case 'f': if (!literal("false")) return false; lua_pushboolean(L_, 0); return true;
      case '"': return string();
      case '[': return array(depth);
      case '{': return object(depth);
      default: return number();
    }
  }

  bool number() {
    const char* start = p_;
    bool is_float = false;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return fail("unexpected character");
    while (p_ < end_ && ((*p_ >= '0' && *p_ <= '9') || *p_ == '.' || *p_ == 'e' || *p_ == 'E' ||
                         *p_ == '+' || *p_ == '-')) {
      if (*p_ == '.' || *p_ == 'e' || *p_ == 'E') is_float = true;
      ++p_;
    }
    const std::string text(start, p_);
    char* stop = nullptr;
    if (!is_float) {
      errno = 0;
      const long long v = std::strtoll(text.c_str(), &stop, 10);
      if (errno == 0 && *stop == '\0') {
        lua_pushinteger(L_, static_cast<lua_Integer>(v));
        return true;
      }
    }
    const double d = std::strtod(text.c_str(), &stop);
    if (*stop != '\0') return fail("bad number");
    lua_pushnumber(L_, d);
    return true;
  }

  static void put_utf8(std::string& s, unsigned cp) {
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool hex4(unsigned* out) {
    if (end_ - p_ < 4) return fail("short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return fail("bad \\u escape");
    }
    *out = v;
    return true;
  }

  bool read_string(std::string* s) {
    ++p_;  // the opening quote
    while (true) {
      if (p_ >= end_) return fail("unterminated string");
      const char c = *p_++;
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        s->push_back(c);
        continue;
      }
      if (p_ >= end_) return fail("unterminated string");
      const char e = *p_++;
      switch (e) {
        case '"': s->push_back('"'); break;
        case '\\': s->push_back('\\'); break;
        case '/': s->push_back('/'); break;
        case 'b': s->push_back('\b'); break;
        case 'f': s->push_back('\f'); break;
        case 'n': s->push_back('\n'); break;
        case 'r': s->push_back('\r'); break;
        case 't': s->push_back('\t'); break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
            const char* save = p_;
            p_ += 2;
            unsigned low = 0;
            if (!hex4(&low)) return false;
            if (low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              p_ = save;
            }
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone surrogate
          put_utf8(*s, cp);
          break;
        }
        default: return fail("bad escape");
      }
    }
  }

  bool string() {
    std::string s;
    if (!read_string(&s)) return false;
    lua_pushlstring(L_, s.data(), s.size());
    return true;
  }

  bool array(int depth) {
    ++p_;
    lua_newtable(L_);
    skip();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (lua_Integer i = 1;; ++i) {
      skip();
      if (!value(depth + 1)) return false;
      lua_rawseti(L_, -2, i);
      skip();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == ']') {
        ++p_;
        return true;
      }
      return fail("expected , or ]");
    }
  }

  bool object(int depth) {
    ++p_;
    lua_newtable(L_);
    skip();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    while (true) {
      skip();
      if (p_ >= end_ || *p_ != '"') return fail("expected a key");
      std::string key;
      if (!read_string(&key)) return false;
      skip();
      if (p_ >= end_ || *p_ != ':') return fail("expected :");
      ++p_;
      skip();
      lua_pushlstring(L_, key.data(), key.size());
      if (!value(depth + 1)) return false;
      lua_rawset(L_, -3);
      skip();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected , or }");
    }
  }

  lua_State* L_;
  const char* p_;
  const char* begin_;
  const char* end_;
  std::string* error_;
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
  return Decoder(L, data, size, error).document();
}

}  // namespace gilrun::cluster
