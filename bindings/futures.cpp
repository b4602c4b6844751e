// futures.cpp — luaopen_futures: the `futures` module is written in Lua
// (futures.lua, whose notes say why); the build embeds it into the binary
// (cmake/embed.cmake) and this runs it, named "@futures.lua" so errors and
// tracebacks point into that file. The chunk gets require's module name and
// a table of the two things Lua cannot do for itself:
//   os_thread() --> a light userdata naming the calling OS thread (the same
//                   in its green threads), for the green pool's idle workers
//   report(text)    hands a report nobody asked for (a done callback that
//                   failed) to the host's sink, Options::report (report.h),
//                   like the runtime's own; unset, it is printed on stderr
#include "support.h"

#include <cstddef>
#include <string_view>

#include "core.h"
#include "report.h"

namespace gilrun {
namespace embedded {
extern const char futures_lua[];
extern const std::size_t futures_lua_size;
}  // namespace embedded

namespace {
int os_thread(lua_State* L) {
  lua_pushlightuserdata(L, &current_thread(L));
  return 1;
}

int report_to_host(lua_State* L) {
  std::size_t size = 0;
  const char* text = luaL_checklstring(L, 1, &size);
  report(core_of(L), std::string_view(text, size));
  return 0;
}
}  // namespace

int luaopen_futures(lua_State* L) {
  if (luaL_loadbuffer(L, embedded::futures_lua, embedded::futures_lua_size, "@futures.lua") !=
      LUA_OK) {
    return lua_error(L);
  }
  lua_pushvalue(L, 1);  // require's module name, as a file chunk gets it
  static const luaL_Reg native[] = {
      {"os_thread", os_thread}, {"report", report_to_host}, {nullptr, nullptr}};
  luaL_newlib(L, native);
  lua_call(L, 2, 1);
  return 1;
}

}  // namespace gilrun
