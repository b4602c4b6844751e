// repl.cpp — lua.c's read-eval-print loop. Like Debian's lua5.4 it reads with
// readline whether or not stdin is a terminal (readline then echoes the line
// after the prompt, which the Lua test suite's main.lua expects). The frames
// that may raise Lua errors hold nothing with a destructor; the GIL is
// released only inside read_line().
#include "repl.h"

#include <readline/history.h>
#include <readline/readline.h>

#include <lua.hpp>
#include <unistd.h>

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

// load_line()'s result when Ctrl-C threw the entry away (a load status
// otherwise, or -1 at the end of input).
constexpr int kInterrupted = -2;

// What readline's callback interface handed over (its state is global: so
// is this).
struct LineRead {
  bool done = false;
  char* line = nullptr;  // malloc'd; null at the end of input
};
LineRead g_read;

void on_line(char* line) {
  rl_callback_handler_remove();  // no prompt after the line
  g_read = LineRead{true, line};
}

enum class Read { line, end, interrupted };

// read_line() shows `prompt` and reads one line into *line. It waits for
// input with the GIL released (other threads and this thread's green threads
// run meanwhile), one key at a time through readline's callback interface,
// so that Ctrl-C at the prompt can end the wait: what was typed is thrown
// away and the caller prompts afresh, as Python's prompt does (a blocking
// readline() would only see the Ctrl-C as an "interrupted" error in the
// next line's code).
Read read_line(lua_State* L, const char* prompt, char** line) {
  g_read = LineRead{};
  rl_callback_handler_install(prompt, on_line);
  while (!g_read.done) {
    if (!wait_readable(L, STDIN_FILENO)) {
      rl_replace_line("", 0);
      rl_callback_sigcleanup();
      rl_callback_handler_remove();
      std::fputs("\n", stdout);
      std::fflush(stdout);
      return Read::interrupted;
    }
    rl_callback_read_char();
  }
  *line = g_read.line;
  return *line != nullptr ? Read::line : Read::end;
}

// push_line() prompts (with _PROMPT, or _PROMPT2 for a continuation line)
// and pushes the line read: 1, or 0 at end of input, or kInterrupted.
int push_line(lua_State* L, bool first) {
  const char* prompt = first ? kPrompt : kPrompt2;
  if (lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2") != LUA_TNIL) {
    prompt = luaL_tolstring(L, -1, nullptr);
    lua_remove(L, -2);  // keep only the string, anchored while readline runs
  }
  char* line = nullptr;
  const Read read = read_line(L, prompt, &line);
  lua_pop(L, 1);  // the prompt
  if (read == Read::interrupted) return kInterrupted;
  if (read == Read::end) return 0;
  if (first && line[0] == '=') {  // Lua 5.2's "=expr"
    lua_pushfstring(L, "return %s", line + 1);
  } else {
    lua_pushstring(L, line);
  }
  std::free(line);
  return 1;
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
// stands). Leaves the function or the error; after Ctrl-C, nothing and
// returns kInterrupted.
int load_statement(lua_State* L) {
  while (true) {
    size_t len = 0;
    const char* chunk = lua_tolstring(L, -1, &len);
    const int status = luaL_loadbuffer(L, chunk, len, "=stdin");
    int more = 0;
    if (incomplete(L, status) && (more = push_line(L, false)) == kInterrupted) {
      lua_pop(L, 2);  // the error and the chunk: the pending input is dropped
      return kInterrupted;
    }
    if (more == 0) {
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

// load_line() reads and compiles one entry; -1 at end of input,
// kInterrupted (nothing pushed) after Ctrl-C.
int load_line(lua_State* L) {
  const int read = push_line(L, true);
  if (read == kInterrupted) return kInterrupted;
  if (read == 0) return -1;
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
    if (status == kInterrupted) continue;  // a fresh prompt
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
