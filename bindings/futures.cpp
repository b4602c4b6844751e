// futures.cpp — luaopen_futures: the `futures` module is written in Lua
// (futures.lua, whose notes say why); the build embeds it into the binary
// (cmake/embed.cmake) and this runs it, named "@futures.lua" so errors and
// tracebacks point into that file.
#include <lua.hpp>

#include <cstddef>

namespace gilrun {
namespace embedded {
extern const char futures_lua[];
extern const std::size_t futures_lua_size;
}  // namespace embedded

int luaopen_futures(lua_State* L) {
  if (luaL_loadbuffer(L, embedded::futures_lua, embedded::futures_lua_size, "@futures.lua") !=
      LUA_OK) {
    return lua_error(L);
  }
  lua_pushvalue(L, 1);  // require's module name, as a file chunk gets it
  lua_call(L, 1, 1);
  return 1;
}

}  // namespace gilrun
