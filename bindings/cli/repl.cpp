// repl.cpp — lua.c's read-eval-print loop. Like Debian's lua5.4 it reads with
// readline whether or not stdin is a terminal (readline then echoes the line
// after the prompt, which the Lua test suite's main.lua expects). The frames
// that may raise Lua errors hold nothing with a destructor; the GIL is
// released only inside read_line().
#include "repl.h"

#include <readline/history.h>
#include <readline/readline.h>

#include <lua.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gilrun/gilrun.h"
#include "lua_main.h"

namespace gilrun::cli {

namespace {

constexpr const char* kPrompt = "> ";
constexpr const char* kPrompt2 = ">> ";
constexpr const char kEofMark[] = "<eof>";  // ends the message of an incomplete chunk

// read_line() shows `prompt` and reads one line without holding the GIL, so
// other threads run meanwhile. Returns a malloc'd line, or null at the end.
char* read_line(lua_State* L, const char* prompt) {
  GilReleased unlocked(L);
  return readline(prompt);
}

// push_line() prompts (with _PROMPT, or _PROMPT2 for a continuation line)
// and pushes the line read; false at end of input.
bool push_line(lua_State* L, bool first) {
  const char* prompt = first ? kPrompt : kPrompt2;
  if (lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2") != LUA_TNIL) {
    prompt = luaL_tolstring(L, -1, nullptr);
    lua_remove(L, -2);  // keep only the string, anchored while readline runs
  }
  char* line = read_line(L, prompt);
  lua_pop(L, 1);  // the prompt
  if (line == nullptr) return false;
  if (first && line[0] == '=') {  // Lua 5.2's "=expr"
    lua_pushfstring(L, "return %s", line + 1);
  } else {
    lua_pushstring(L, line);
  }
  std::free(line);
  return true;
}

// incomplete() tells whether a load failed only because the chunk ended early.
bool incomplete(lua_State* L, int status) {
  if (status != LUA_ERRSYNTAX) return false;
  size_t len = 0;
  const char* message = lua_tolstring(L, -1, &len);
  const size_t mark = sizeof kEofMark - 1;
  return len >= mark && std::strcmp(message + len - mark, kEofMark) == 0;
}

void remember(const char* line) {
  if (line[0] != '\0') add_history(line);
}

// load_expression() compiles the line on top as `return <line>;`. On success
// the function replaces the line; on failure the line stays.
int load_expression(lua_State* L) {
  const char* line = lua_tostring(L, -1);
  const char* code = lua_pushfstring(L, "return %s;", line);
  const int status = luaL_loadbuffer(L, code, std::strlen(code), "=stdin");
  if (status == LUA_OK) {
    remember(line);
    lua_remove(L, -2);  // the code
    lua_remove(L, -2);  // the line
  } else {
    lua_pop(L, 2);  // the error and the code
  }
  return status;
}

// load_statement() compiles the line on top as a statement, joining more
// lines while the chunk is incomplete (at the end of input the syntax error
// stands). Leaves the function or the error.
int load_statement(lua_State* L) {
  while (true) {
    size_t len = 0;
    const char* chunk = lua_tolstring(L, -1, &len);
    const int status = luaL_loadbuffer(L, chunk, len, "=stdin");
    if (!incomplete(L, status) || !push_line(L, false)) {
      remember(chunk);
      lua_remove(L, -2);  // the chunk
      return status;
    }
    lua_remove(L, -2);  // the error
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);  // chunk .. "\n" .. line
  }
}

// load_line() reads and compiles one entry; -1 at end of input.
int load_line(lua_State* L) {
  if (!push_line(L, true)) return -1;
  const int status = load_expression(L);
  return status == LUA_OK ? status : load_statement(L);
}

// print_results() prints the `n` values on top with the global print.
void print_results(lua_State* L, int n) {
  if (n <= 0) return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_getglobal(L, "print");
  lua_insert(L, -n - 1);
  if (lua_pcall(L, n, 0, 0) != LUA_OK) {
    lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1));
    report(L, LUA_ERRRUN, nullptr);
    lua_pop(L, 1);  // print's error
  }
}

}  // namespace

void run_repl(lua_State* L) {
  rl_readline_name = "gilrun";  // for `$if gilrun` in ~/.inputrc
  const int base = lua_gettop(L);
  int status;
  while ((status = load_line(L)) != -1) {
    if (status == LUA_OK) status = call_chunk(L, 0, LUA_MULTRET);
    if (status == LUA_OK) {
      print_results(L, lua_gettop(L) - base);
    } else {
      report(L, status, nullptr);
    }
    lua_settop(L, base);
  }
  lua_settop(L, base);
  std::fputs("\n", stdout);
  std::fflush(stdout);
}

}  // namespace gilrun::cli
