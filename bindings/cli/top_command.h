// top_command.h — `gilrun top [PID] [--once] [--json] [--interval=DUR]`:
// a live view of the GIL of a running gilrun process, read from its monitor
// page (runtime/monitor/) without stopping or slowing it.
#pragma once

namespace gilrun::cli::top {

// run_top() takes the arguments after `top`; returns the exit status.
int run_top(int argc, char** argv);

}  // namespace gilrun::cli::top
