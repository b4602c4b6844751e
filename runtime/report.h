// report.h — report(): the one way the runtime tells its host something
// nobody asked for (a thread that failed and was never joined, a green
// thread that blocks its hub, a futures done callback that raised: futures.lua
// reaches it through futures.cpp's report). This file is private to the
// runtime.
//
// The text goes to Options::report, the host's sink, else to stderr
// (print_report). Call it from any thread, with or without the GIL; the
// sink must not call back into the interpreter. Where no Core is in reach
// the runtime still writes to stderr itself, and says why there: a fiber
// that cannot get a stack aborts the process (fiber.cpp), and the fork
// server is a process of its own with no host (fork_server.cpp).
#pragma once

#include <string_view>

namespace gilrun {

struct Core;

// report() hands one report (no trailing newline) to core's sink.
void report(const Core& core, std::string_view text);

}  // namespace gilrun
