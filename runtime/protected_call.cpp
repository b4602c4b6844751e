#include "protected_call.h"

#include <lua.hpp>

namespace gilrun {
namespace {

// keep_traceback() copies the string at the top into *out. Called from a
// message handler: no C++ object with a destructor lives in this frame, and
// an exception never reaches Lua.
void keep_traceback(lua_State* L, std::string* out) noexcept {
  size_t len = 0;
  const char* s = lua_tolstring(L, -1, &len);
  try {
    out->assign(s, len);
  } catch (...) {
    out->clear();  // out of memory: no traceback rather than none at all
  }
}

// traceback_handler(error), upvalue 1 (if any): the std::string* to keep a
// non-string error's traceback in.
int traceback_handler(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING) {
    // Keep error objects (tables, userdata) intact for whoever catches them.
    if (!lua_isnoneornil(L, 1)) {
      if (auto* out = static_cast<std::string*>(lua_touserdata(L, lua_upvalueindex(1)))) {
        luaL_traceback(L, L, nullptr, 1);
        keep_traceback(L, out);
      }
      lua_settop(L, 1);
      return 1;
    }
    lua_pushliteral(L, "(error object is a nil value)");
    lua_replace(L, 1);
  }
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

}  // namespace

int insert_message_handler(lua_State* L, int nargs, std::string* traceback) {
  const int base = lua_gettop(L) - nargs;  // function index
  if (traceback != nullptr) {
    lua_pushlightuserdata(L, traceback);
    lua_pushcclosure(L, traceback_handler, 1);
  } else {
    lua_pushcfunction(L, traceback_handler);  // allocates nothing; no upvalue reads as NULL
  }
  lua_insert(L, base);
  return base;
}

int protected_call(lua_State* L, int nargs, int nresults, std::string* traceback) {
  const int base = insert_message_handler(L, nargs, traceback);
  const int status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  return status;
}

int protected_call(lua_State* L, int nargs, int nresults) {
  return protected_call(L, nargs, nresults, nullptr);
}

bool is_interrupt(const std::string& message) {
  static const std::string kSuffix = ": interrupted";
  return message == "interrupted" ||
         (message.size() > kSuffix.size() &&
          message.compare(message.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0);
}

RunResult describe_error(lua_State* L, int status) {
  RunResult result;
  result.status = status == LUA_ERRSYNTAX ? RunResult::syntax_error : RunResult::error;
  std::string text;
  if (const char* s = lua_tostring(L, -1)) {
    text = s;
  } else {  // no __tostring call here: it could raise outside protection
    text = std::string("(error object is a ") + luaL_typename(L, -1) + " value)";
  }
  const auto split = text.find("\nstack traceback:");
  result.message = text.substr(0, split);
  if (split != std::string::npos) result.traceback = text.substr(split + 1);
  if (is_interrupt(result.message)) result.status = RunResult::interrupted;
  return result;
}

RunResult pop_error(lua_State* L, int status) {
  RunResult r = describe_error(L, status);
  lua_pop(L, 1);
  return r;
}

}  // namespace gilrun
