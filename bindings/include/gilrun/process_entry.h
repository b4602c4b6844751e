// process_entry.h — the gilrun binary's hidden child modes, used by the
// `process` module (which starts every child through the gilrun binary):
//
//   gilrun --process-worker PARENT_PID FD [QUEUE_TOKEN...]
//       a worker: runs the tasks its parent sends over socket FD, replies
//       with results or errors, exits when the parent closes the socket.
//   gilrun --process-exec PARENT_PID STATUS_FD PROGRAM [ARG...]
//       the trampoline of process.run: execs PROGRAM (searching PATH) once
//       it is set to die with its parent; if the exec fails, writes errno to
//       STATUS_FD and exits 127.
//   gilrun --fork-server PARENT_PID FD
//       the fork server (runtime/process/fork_server.h): forks children on
//       the requests that arrive over SOCK_SEQPACKET socket FD; each runs one
//       of the modes above, with the server as its PARENT_PID.
//
// All first call die_with_parent(PARENT_PID): no child outlives gilrun.
#pragma once

namespace gilrun {

// run_process_mode() runs one of the modes above and returns the process's
// exit status, or returns -1 at once if argv is not a child mode.
int run_process_mode(int argc, char** argv);

}  // namespace gilrun
