// io_wait.h — waiting until a file descriptor is ready. This file is private
// to the runtime.
//
// Every binding that blocks on a descriptor (pipe, net, process) waits here
// and nowhere else, so there is one place that knows how a wait must look in
// each kind of context: an OS thread drops the GIL and sleeps in poll(); a
// green thread (when there is one) lets its hub watch the descriptor and
// switches away. Ctrl-C ends the wait.
#pragma once

#include <sys/types.h>

#include <cerrno>

#include "thread_state.h"
#include "wait/clock.h"
#include "wait/wait_list.h"

namespace gilrun {

// wait_fd() blocks until `fd` can do `events` (POLLIN / POLLOUT; an error
// or hang-up also counts as ready, so the caller's next read or write sees
// it), the deadline passes, or Ctrl-C. Called and returns with the GIL held.
//
// With a `spin` budget it first stays awake for up to that long, GIL
// released, polling `fd` without sleeping (spin_until_ready) — for a reply
// that comes back within microseconds from another process, whose
// wake-up through the kernel costs more than that on these VMs (the same
// trade as Parker's spin, parker.h). A green thread spins only when no
// other green thread (or its root) is ready to run on its hub: it would
// hold them up.
WaitStatus wait_fd(ThreadState& ts, int fd, short events, const Deadline& deadline,
                   Clock::duration spin = {});

// spin_until_ready() polls `fd` for `events` without sleeping for up to
// `budget` (never past `deadline`), yielding the CPU every few polls so
// that a process queued behind this one on the same CPU — the peer being
// waited for, on a busy machine — still runs. True once `fd` is ready (or
// hung up, or in error). Touches no lua_State: call it with the GIL
// released, or where there is none (a worker process).
bool spin_until_ready(int fd, short events, Clock::duration budget,
                      const Deadline& deadline = std::nullopt);

// wait_fd_blocking() is wait_fd() for an OS thread: the GIL is dropped and
// the thread sleeps in poll(), whatever green threads it has (the hub's way
// out when libuv cannot watch the descriptor).
WaitStatus wait_fd_blocking(ThreadState& ts, int fd, short events, const Deadline& deadline);

// poll_ready() is wait_fd_blocking()'s sleep, for a thread that has let the
// GIL go already: poll() in slices, until `fd` is ready, the deadline
// passes or Ctrl-C is pending (left pending for the caller to take).
WaitStatus poll_ready(ThreadState& ts, int fd, short events, const Deadline& deadline);

// in_green_context() tells whether `ts` runs a green thread now (its waits
// then go through the hub).
bool in_green_context(ThreadState& ts);

// io_call() makes a non-blocking I/O system call on `fd` (`call` returns
// its ssize_t result and leaves errno) with the GIL released, as CPython
// releases it around every send() and recv(), and tries again while it
// would block (EAGAIN) once `fd` can do `events`. An OS thread makes the
// tries and the poll() between them within one release of the GIL; a green
// thread releases it around each try and waits through its hub. Returns
// the last try's result, errno as it left it; or -1 with *status set to
// timed_out or interrupted (Ctrl-C taken). Called and returns with the GIL
// held; `call` must not touch any lua_State.
//
// Why the GIL goes around the tries too (issue 16, the convoy under
// `priority`): a write() or a speculative read() made with the GIL held
// kept it ~17 us per echo round trip where ~9 us of Lua needed it, and
// that time was lost to the CPU-bound threads.
template <class Call>
ssize_t io_call(ThreadState& ts, int fd, short events, const Deadline& deadline,
                WaitStatus* status, Call&& call) {
  *status = WaitStatus::ready;
  ssize_t result = -1;
  int error = 0;
  auto would_block = [&] { return result < 0 && (error == EAGAIN || error == EWOULDBLOCK); };
  auto try_once = [&] {
    do {
      result = call();
      error = result < 0 ? errno : 0;
    } while (result < 0 && error == EINTR);
  };
  if (in_green_context(ts)) {
    while (true) {
      with_gil_released(ts, try_once);
      if (!would_block()) break;
      *status = wait_fd(ts, fd, events, deadline);
      if (*status != WaitStatus::ready) return -1;
    }
  } else {
    if (ts.take_interrupt()) {
      *status = WaitStatus::interrupted;
      return -1;
    }
    with_gil_released(ts, [&] {
      for (try_once(); would_block(); try_once()) {
        *status = poll_ready(ts, fd, events, deadline);
        if (*status != WaitStatus::ready) return;
      }
    });
    if (*status == WaitStatus::interrupted) ts.take_interrupt();
    if (*status != WaitStatus::ready) return -1;
  }
  errno = error;
  return result;
}

}  // namespace gilrun
