// fd_write.cpp — see fd_write.h.
#include "wait/fd_write.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace gilrun {

ssize_t write_nosignal(int fd, const void* data, size_t size) {
  const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
  if (sent >= 0 || errno != ENOTSOCK) return sent;
  // Not a socket: hold SIGPIPE off for this thread. The signal a failed
  // write raises is then pending on the thread, and is taken off unless one
  // was already pending before (that one is not ours to swallow).
  sigset_t pipe_only;
  sigset_t saved_mask;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &saved_mask);
  sigset_t pending;
  sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  const ssize_t written = ::write(fd, data, size);
  const int write_errno = errno;
  if (written < 0 && write_errno == EPIPE && !already_pending) {
    const timespec no_wait{};
    while (sigtimedwait(&pipe_only, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
  errno = write_errno;
  return written;
}

}  // namespace gilrun
