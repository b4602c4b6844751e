// lua_main.h — what lua.c's pmain does once the command line is scanned:
// LUA_INIT, the -e/-l/-W steps in order, the script with `...` taken from
// `arg`, then the prompt or stdin, with lua.c's error messages.
#pragma once

#include "command_line.h"

struct lua_State;

namespace gilrun {
class Interpreter;
}

namespace gilrun::cli {

// run_lua_main() runs all of that on the interpreter's main thread, reporting
// errors on stderr as lua5.4 does (prefixed by argv[0]). Returns the exit
// status: 0, 1 after an error, 130 after Ctrl-C.
int run_lua_main(Interpreter& interpreter, const Invocation& inv);

// For the prompt (repl.cpp), inside run_lua_main's protected call:
// call_chunk() is lua_pcall with lua.c's message handler (string errors get
// a traceback; objects with __tostring become that string).
int call_chunk(lua_State* L, int nargs, int nresults);
// report() prints the error on top of the stack, after "progname: " unless
// progname is null, and pops it. Returns status.
int report(lua_State* L, int status, const char* progname);

}  // namespace gilrun::cli
