// repl.h — the interactive prompt: lua.c's REPL, reading lines with GNU
// readline (history, line editing), the GIL released while it waits.
#pragma once

struct lua_State;

namespace gilrun::cli {

// run_repl() reads lines until end of input, as lua5.4 -i does: a line is
// tried as `return <line>;` first (its values are printed with `print`),
// else as a statement, reading more lines while it is incomplete; "=expr"
// is "return expr". _PROMPT and _PROMPT2 (any value, through tostring)
// replace "> " and ">> ". Errors are printed without the program's name.
// Call it inside run_lua_main's protected call (repl.cpp raises Lua errors).
void run_repl(lua_State* L);

}  // namespace gilrun::cli
