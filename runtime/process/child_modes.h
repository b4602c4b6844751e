// child_modes.h — how a child of this VM is started: the binary it runs
// (child_executable) and the names of that binary's hidden child modes,
// written once for the side that starts a child
// (runtime/process/fork_server.cpp, bindings/process/run.cpp and worker.cpp)
// and the side that recognises it (bindings/process/entry.cpp). What each
// mode does: gilrun/process_entry.h.
// This file is private to the runtime and the bindings.
#pragma once

#include <string>

struct lua_State;

namespace gilrun {

inline constexpr const char* kProcessWorkerMode = "--process-worker";
inline constexpr const char* kProcessExecMode = "--process-exec";
inline constexpr const char* kForkServerMode = "--fork-server";

// child_executable() is the gilrun binary that runs a child for L's VM:
// Options::worker_executable if the host set it, else this program itself
// (/proc/self/exe). Any state of the VM; no GIL needed (Options are const).
std::string child_executable(lua_State* L);

}  // namespace gilrun
