// repl.h — the interactive prompt (lua.c's doREPL, without readline).
#pragma once

namespace gilrun {
class Interpreter;
}

namespace gilrun::cli {

// run_repl() reads lines from stdin until EOF, printing expression values
// and errors (with tracebacks) as lua does. Ctrl-C abandons the running line,
// not the session.
void run_repl(Interpreter& interpreter);

}  // namespace gilrun::cli
