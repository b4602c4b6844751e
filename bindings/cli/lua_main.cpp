// lua_main.cpp — lua.c's pmain for gilrun. All of it runs inside one
// protected C function, as in lua.c; its frames hold nothing with a
// destructor, so the Lua errors raised in them (luaL_len, luaL_checkstack,
// a __tostring) can unwind safely. The error that ends the run is printed
// after that call has returned (see lua_main()).
#include "lua_main.h"

#include <lua.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gilrun/gilrun.h"
#include "protected_call.h"
#include "repl.h"

namespace gilrun::cli {

namespace {

constexpr int kInterruptedStatus = 130;  // 128 + SIGINT, like a shell

// What the protected part needs and whether it got to the end.
struct MainRun {
  const Invocation* inv;
  bool ok = false;
};

// message_handler() is lua.c's: a string gets a traceback; an error object
// with __tostring becomes that string; any other object names its type.
int message_handler(lua_State* L) {
  const char* message = lua_tostring(L, 1);
  if (message == nullptr) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, message, 1);
  return 1;
}

void print_version() {
  // "gilrun 0.1.0 (Lua 5.4.4)  Copyright (C) ... PUC-Rio", like lua -v.
  std::printf("%s%s\n", version(), LUA_COPYRIGHT + std::strlen(LUA_RELEASE));
  std::fflush(stdout);
}

bool failed(int status) { return status != LUA_OK; }

// is_interrupt_report() tells whether a report (message, then maybe a
// traceback) is the Ctrl-C error.
bool is_interrupt_report(const char* message) {
  const char* end = std::strchr(message, '\n');
  const size_t len = end != nullptr ? static_cast<size_t>(end - message) : std::strlen(message);
  return is_interrupt(std::string(message, len));
}

int run_chunk(lua_State* L, int load_status) {
  return load_status == LUA_OK ? call_chunk(L, 0, 0) : load_status;
}

// run_init() runs LUA_INIT_5_4, else LUA_INIT: "@file" or a chunk.
int run_init(lua_State* L) {
  const char* name = "=LUA_INIT" LUA_VERSUFFIX;
  const char* init = std::getenv(name + 1);
  if (init == nullptr) {
    name = "=LUA_INIT";
    init = std::getenv(name + 1);
  }
  if (init == nullptr) return LUA_OK;
  if (init[0] == '@') return run_chunk(L, luaL_loadfile(L, init + 1));
  return run_chunk(L, luaL_loadbuffer(L, init, std::strlen(init), name));
}

// require_global() runs `g = require "mod"` for "-l g=mod" ("-l mod": g is mod).
int require_global(lua_State* L, const char* spec) {
  const char* eq = std::strchr(spec, '=');
  lua_getglobal(L, "require");
  lua_pushstring(L, eq != nullptr ? eq + 1 : spec);
  const int status = call_chunk(L, 1, 1);
  if (status != LUA_OK) return status;
  lua_pushlstring(L, spec, eq != nullptr ? static_cast<size_t>(eq - spec) : std::strlen(spec));
  lua_insert(L, -2);
  lua_setglobal(L, lua_tostring(L, -2));
  lua_pop(L, 1);  // the name
  return LUA_OK;
}

int run_step(lua_State* L, const LuaStep& step) {
  switch (step.kind) {
    case LuaStep::exec:
      return run_chunk(L, luaL_loadbuffer(L, step.text.data(), step.text.size(), "=(command line)"));
    case LuaStep::require:
      return require_global(L, step.text.c_str());
    case LuaStep::warnings_on:
      lua_warning(L, "@on", 0);
      return LUA_OK;
  }
  return LUA_OK;
}

// push_script_args() pushes arg[1..#arg], read when the script starts (so
// -e and LUA_INIT may change them). Returns how many.
int push_script_args(lua_State* L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  const int n = static_cast<int>(luaL_len(L, -1));
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = 1; i <= n; ++i) lua_rawgeti(L, -i, i);
  lua_remove(L, -n - 1);  // the table
  return n;
}

int run_script(lua_State* L, const Invocation& inv) {
  const char* path = inv.argv[inv.script_index].c_str();
  // "-" is stdin, unless it follows "--" (then it names a file).
  if (std::strcmp(path, "-") == 0 && inv.argv[inv.script_index - 1] != "--") path = nullptr;
  int status = luaL_loadfile(L, path);
  if (status == LUA_OK) {
    const int n = push_script_args(L);
    status = call_chunk(L, n, 0);
  }
  return status;
}

// lua_main() is the protected part; its argument is the MainRun. A failed
// step returns its error message, printed once lua_main has returned: a
// Ctrl-C sent after the message appeared must find the main thread out of
// Lua (so that it ends the wait for threads at exit, not this call).
int lua_main(lua_State* L) {
  MainRun& run = *static_cast<MainRun*>(lua_touserdata(L, 1));
  const Invocation& inv = *run.inv;
  luaL_checkversion(L);
  if (inv.version) print_version();
  lua_gc(L, LUA_GCGEN, 0, 0);  // as lua.c: the command line collects generationally
  if (!inv.ignore_env && failed(run_init(L))) return 1;
  for (const LuaStep& step : inv.steps) {
    if (failed(run_step(L, step))) return 1;
  }
  if (inv.script_index >= 0 && failed(run_script(L, inv))) return 1;
  if (inv.interactive) {
    run_repl(L);
  } else if (inv.script_index < 0 && !inv.exec && !inv.version) {
    if (isatty(STDIN_FILENO)) {
      print_version();
      run_repl(L);
    } else if (failed(run_chunk(L, luaL_loadfile(L, nullptr)))) {
      return 1;
    }
  }
  run.ok = true;
  return 0;
}

}  // namespace

int call_chunk(lua_State* L, int nargs, int nresults) {
  const int base = lua_gettop(L) - nargs;  // the function
  lua_pushcfunction(L, message_handler);
  lua_insert(L, base);
  const int status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  return status;
}

int report(lua_State* L, int status, const char* progname) {
  if (status == LUA_OK) return status;
  const char* message = lua_tostring(L, -1);
  if (progname != nullptr) std::fprintf(stderr, "%s: ", progname);
  std::fprintf(stderr, "%s\n", message != nullptr ? message : "(error object is not a string)");
  std::fflush(stderr);
  lua_pop(L, 1);
  return status;
}

int run_lua_main(Interpreter& interpreter, const Invocation& inv) {
  MainRun run{&inv};
  std::string error;
  // with_lua() runs its function as a protected C function: that frame is
  // lua.c's pmain, so tracebacks end in one "[C]: in ?" as lua5.4's do.
  const RunResult outside = interpreter.with_lua([&](lua_State* L) {
    lua_pushlightuserdata(L, &run);
    lua_main(L);
    if (!run.ok) {  // a failed step's message is on the top
      const char* message = lua_tostring(L, -1);
      error = message != nullptr ? message : "(error object is not a string)";
    }
  });
  if (!outside) {  // raised outside any chunk: out of memory, a Ctrl-C as it returned
    run.ok = false;
    error = outside.message;
  }
  if (run.ok) return 0;
  // Printed out of Lua: see lua_main().
  std::fprintf(stderr, "%s: %s\n", inv.progname(), error.c_str());
  std::fflush(stderr);
  return is_interrupt_report(error.c_str()) ? kInterruptedStatus : 1;
}

}  // namespace gilrun::cli
