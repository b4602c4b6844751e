// pipe.cpp — the `pipe` module: byte streams whose reads and writes release
// the GIL, and an echo peer that never needs it.
//
//   local a, b = pipe.pair()      -- two connected endpoints (a socketpair)
//   local e = pipe.echo()         -- an endpoint whose peer, a plain C++
//                                 -- thread, echoes every byte back
//   ep:write(s)  --> true | nil, "closed" (the peer closed) | nil, message
//   ep:read([n]) --> up to n bytes (default 4096) | nil, "closed" | nil, message
//   ep:close()
//
// The descriptors are non-blocking, and every read() and write() runs with
// the GIL released (io_call(), io_wait.h), as CPython's socket calls do: a
// call that would block waits for the descriptor within the same release.
// Each call is so a point where a CPU-bound thread can take the GIL, and
// winning it back after a round trip is the convoy effect
// (scripts/convoy.lua); the `priority` policy is the cure.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "wait/io_wait.h"
#include "wait/fd_write.h"
#include "support.h"

namespace gilrun {
namespace {

constexpr const char* kEndpoint = "gilrun.pipe";

struct Endpoint {
  explicit Endpoint(int fd_) : fd(fd_) {}
  ~Endpoint() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fd;
};

Endpoint* check_open(lua_State* L) {
  auto* ep = check_object<Endpoint>(L, 1, kEndpoint);
  if (ep->fd < 0) luaL_error(L, "pipe endpoint is closed");
  return ep;
}

// echo_peer() runs on its own OS thread and never touches Lua.
void echo_peer(int fd) {
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
    for (ssize_t off = 0; n > 0 && off < n;) {
      const ssize_t w = write_nosignal(fd, buffer + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) goto done;
      off += w;
    }
  }
done:
  ::close(fd);
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// make_pair() makes a socketpair; the Lua side (fds[0]) is non-blocking.
bool make_pair(int fds[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
  set_nonblocking(fds[0]);
  return true;
}

int pipe_pair(lua_State* L) {
  int fds[2];
  if (!make_pair(fds)) return push_fail(L, std::strerror(errno));
  set_nonblocking(fds[1]);
  new_object<Endpoint>(L, kEndpoint, 0, fds[0]);
  new_object<Endpoint>(L, kEndpoint, 0, fds[1]);
  return 2;
}

// start_peer() makes a socketpair, runs `peer` on the far end in a detached
// C++ thread and pushes the Lua endpoint (or nil, message).
template <class Peer>
int start_peer(lua_State* L, Peer&& peer) {
  int fds[2];
  if (!make_pair(fds)) return push_fail(L, std::strerror(errno));
  bool started = true;
  try {
    std::thread(std::forward<Peer>(peer), fds[1]).detach();
  } catch (const std::system_error&) {
    started = false;
  }
  if (!started) {
    ::close(fds[0]);
    ::close(fds[1]);
    return push_fail(L, "cannot start the peer thread");
  }
  new_object<Endpoint>(L, kEndpoint, 0, fds[0]);
  return 1;
}

int pipe_echo(lua_State* L) { return start_peer(L, echo_peer); }

int endpoint_write(lua_State* L) {
  Endpoint* ep = check_open(L);
  size_t size = 0;
  const char* data = luaL_checklstring(L, 2, &size);  // anchored at index 2
  ThreadState& ts = current_thread(L);
  WaitStatus status = WaitStatus::ready;
  for (size_t off = 0; off < size;) {
    const ssize_t w = io_call(ts, ep->fd, POLLOUT, std::nullopt, &status,
                              [&] { return write_nosignal(ep->fd, data + off, size - off); });
    if (w >= 0) {
      off += static_cast<size_t>(w);
    } else if (status == WaitStatus::interrupted) {
      raise_interrupted(L);
    } else if (errno == EPIPE || errno == ECONNRESET) {
      return push_fail(L, "closed");  // as net's send says it
    } else {
      return push_fail(L, std::strerror(errno));
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int endpoint_read(lua_State* L) {
  Endpoint* ep = check_open(L);
  const lua_Integer max = luaL_optinteger(L, 2, 4096);
  luaL_argcheck(L, max > 0 && max <= (1 << 24), 2, "read size must be 1 .. 16 MiB");
  luaL_Buffer buffer;
  char* out = luaL_buffinitsize(L, &buffer, static_cast<size_t>(max));  // on L's stack
  WaitStatus status = WaitStatus::ready;
  const ssize_t n = io_call(current_thread(L), ep->fd, POLLIN, std::nullopt, &status,
                            [&] { return ::read(ep->fd, out, static_cast<size_t>(max)); });
  if (status == WaitStatus::interrupted) raise_interrupted(L);
  if (n < 0) return push_fail(L, std::strerror(errno));
  if (n == 0) return push_fail(L, "closed");
  luaL_pushresultsize(&buffer, static_cast<size_t>(n));
  return 1;
}

int endpoint_close(lua_State* L) {
  check_object<Endpoint>(L, 1, kEndpoint)->close();
  return 0;
}

}  // namespace

int luaopen_pipe(lua_State* L) {
  static const luaL_Reg methods[] = {{"write", endpoint_write},
                                     {"read", endpoint_read},
                                     {"close", endpoint_close},
                                     {nullptr, nullptr}};
  define_class(L, kEndpoint, methods, destroy_object<Endpoint>);
  static const luaL_Reg functions[] = {
      {"pair", pipe_pair}, {"echo", pipe_echo}, {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace gilrun
