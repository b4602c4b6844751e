// site.h — where a thread is in its Lua code, for the GIL attribution
// tables. This file is private to the runtime.
#pragma once

#include <string>

struct lua_State;

namespace gilrun {

// Site is one thread's position: the innermost Lua line, the function it is
// in, and the whole stack as collapsed-stack frames (outermost first).
struct Site {
  std::string where;     // "file.lua:12"; "(not in Lua)" with no Lua frame
  std::string function;  // "fib"; "hold [C] in fib" when a C function runs
  std::string stack;     // "main chunk (file.lua:30);fib (file.lua:12);hold [C]"
};

// capture_site() reads L's call stack. The caller holds the GIL and runs L
// (or L is suspended on the caller's thread). L may be null.
Site capture_site(lua_State* L);

}  // namespace gilrun
