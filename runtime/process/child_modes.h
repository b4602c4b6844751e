// child_modes.h — the names of the gilrun binary's hidden child modes, written
// once for the side that starts a child (runtime/process/fork_server.cpp,
// bindings/process/run.cpp and worker.cpp) and the side that recognises it
// (bindings/process/entry.cpp). What each mode does: gilrun/process_entry.h.
// This file is private to the runtime and the bindings.
#pragma once

namespace gilrun {

inline constexpr const char* kProcessWorkerMode = "--process-worker";
inline constexpr const char* kProcessExecMode = "--process-exec";
inline constexpr const char* kForkServerMode = "--fork-server";

}  // namespace gilrun
