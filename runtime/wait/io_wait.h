// io_wait.h — waiting until a file descriptor is ready. This file is private
// to the runtime.
//
// Every binding that blocks on a descriptor (pipe, net, process) waits here
// and nowhere else, so there is one place that knows how a wait must look in
// each kind of context: an OS thread drops the GIL and sleeps in poll(); a
// green thread (when there is one) lets its hub watch the descriptor and
// switches away. Ctrl-C ends the wait.
#pragma once

#include "wait/parker.h"
#include "wait/wait_list.h"

namespace gilrun {

// wait_fd() blocks until `fd` can do `events` (POLLIN / POLLOUT; an error
// or hang-up also counts as ready, so the caller's next read or write sees
// it), the deadline passes, or Ctrl-C. Called and returns with the GIL held.
WaitStatus wait_fd(ThreadState& ts, int fd, short events, const Deadline& deadline);

// wait_fd_blocking() is wait_fd() for an OS thread: the GIL is dropped and
// the thread sleeps in poll(), whatever green threads it has (the hub's way
// out when libuv cannot watch the descriptor).
WaitStatus wait_fd_blocking(ThreadState& ts, int fd, short events, const Deadline& deadline);

}  // namespace gilrun
