// net.cpp — the `net` module: TCP sockets in LuaSocket's style.
//
//   local server = net.listen(host, port [, backlog])  -- port 0: a free port
//   server:getsockname()  --> host, port
//   server:accept()       --> connection | nil, message
//   local c = net.connect(host, port [, timeout])      --> connection | nil, message
//   c:send(s)             --> #s | nil, message, bytes sent
//   c:receive(n | "*l" | "*a")  --> data | nil, message, partial data
//                         ("*l": a line without its end of line; "*a": all
//                         until the peer closes; n: exactly n bytes)
//   c:settimeout(seconds | nil), c:getsockname(), c:getpeername(), c:close()
//   (servers have settimeout and close too)
//
// Errors are `nil, message` ("closed", "timeout", or the system's words),
// never raised; Ctrl-C and green.kill() still raise. Descriptors are
// non-blocking, and every recv(), send() and accept() runs with the GIL
// released (io_call(), io_wait.h, as CPython's socket module does); a call
// that would block waits for the descriptor — poll() within the same
// release in an OS thread, the hub in a green thread. So the same code
// serves threads and green threads.
//
// Only one green thread may wait on a given socket at a time (the hub puts
// one uv_poll on the descriptor): share a connection between green threads
// through a queue, not by reading and writing it from two of them at once.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "wait/io_wait.h"
#include "support.h"

namespace gilrun {
namespace {

constexpr const char* kServer = "gilrun.net.server";
constexpr const char* kConnection = "gilrun.net.connection";
constexpr std::size_t kReadChunk = 16384;

struct Socket {
  explicit Socket(int fd_) : fd(fd_) {}
  ~Socket() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fd;
  std::optional<double> timeout;  // per call; none: wait forever
  std::string inbox;              // received but not yet returned
};

// Outcome of one blocking step: null message is success.
struct Step {
  const char* error = nullptr;
  bool interrupted = false;
};

Step wait_for(ThreadState& ts, int fd, short events, const Deadline& deadline) {
  switch (wait_fd(ts, fd, events, deadline)) {
    case WaitStatus::ready: return {};
    case WaitStatus::timed_out: return {"timeout"};
    case WaitStatus::interrupted: return {"interrupted", true};
  }
  return {};
}

// finish() turns a failed step into `nil, message [, partial]`, or raises
// Ctrl-C / kill. Call it with no C++ object alive in the caller's frame.
int finish(lua_State* L, const Step& step, const char* partial = nullptr, std::size_t len = 0) {
  if (step.interrupted) raise_interrupted(L);
  lua_pushnil(L);
  lua_pushstring(L, step.error);
  if (partial == nullptr) return 2;
  lua_pushlstring(L, partial, len);
  return 3;
}

// step_of() is a failed io_call()'s outcome.
Step step_of(WaitStatus status) {
  if (status == WaitStatus::timed_out) return {"timeout"};
  if (status == WaitStatus::interrupted) return {"interrupted", true};
  return {std::strerror(errno)};
}

Step read_some(ThreadState& ts, Socket& s, const Deadline& deadline) {
  char buffer[kReadChunk];
  WaitStatus status = WaitStatus::ready;
  const ssize_t n = io_call(ts, s.fd, POLLIN, deadline, &status,
                            [&] { return ::recv(s.fd, buffer, sizeof buffer, 0); });
  if (n < 0) return step_of(status);
  if (n == 0) return {"closed"};
  s.inbox.append(buffer, static_cast<std::size_t>(n));
  return {};
}

// resolve() fills `out` for host:port; returns an error message or null.
const char* resolve(const char* host, lua_Integer port, bool passive, sockaddr_storage* out,
                    socklen_t* len) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* found = nullptr;
  char service[16];
  std::snprintf(service, sizeof service, "%d", static_cast<int>(port));
  const int rc = getaddrinfo(host, service, &hints, &found);
  if (rc != 0) return gai_strerror(rc);
  std::memcpy(out, found->ai_addr, found->ai_addrlen);
  *len = found->ai_addrlen;
  freeaddrinfo(found);
  return nullptr;
}

int push_address(lua_State* L, const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    port = ntohs(a.sin6_port);
  }
  lua_pushstring(L, host);
  lua_pushinteger(L, port);
  return 2;
}

Socket* check_socket(lua_State* L) {
  auto* s = static_cast<Socket*>(luaL_testudata(L, 1, kConnection));
  if (s == nullptr) s = check_object<Socket>(L, 1, kServer);
  return s;
}

Socket* push_socket(lua_State* L, const char* kind, int fd) {
  return new_object<Socket>(L, kind, 0, fd);
}

lua_Integer check_port(lua_State* L, int arg) {
  const lua_Integer port = luaL_checkinteger(L, arg);
  luaL_argcheck(L, port >= 0 && port <= 65535, arg, "port must be 0..65535");
  return port;
}

// --- servers -----------------------------------------------------------------

int net_listen(lua_State* L) {
  const char* host = luaL_checkstring(L, 1);
  const lua_Integer port = check_port(L, 2);
  const int backlog = static_cast<int>(luaL_optinteger(L, 3, 128));
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (const char* err = resolve(std::strcmp(host, "*") == 0 ? nullptr : host, port, true, &addr,
                                &len)) {
    return push_fail(L, err);
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return push_fail(L, std::strerror(errno));
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, backlog) != 0) {
    const int err = errno;
    ::close(fd);
    return push_fail(L, std::strerror(err));
  }
  push_socket(L, kServer, fd);
  return 1;
}

int server_accept(lua_State* L) {
  Socket* s = check_object<Socket>(L, 1, kServer);
  if (s->fd < 0) return push_fail(L, "closed");
  ThreadState& ts = current_thread(L);
  const Deadline deadline = deadline_after(s->timeout);
  while (true) {
    WaitStatus status = WaitStatus::ready;
    const int fd = static_cast<int>(io_call(ts, s->fd, POLLIN, deadline, &status, [&] {
      return ::accept4(s->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }));
    if (fd >= 0) {
      const int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      push_socket(L, kConnection, fd);
      return 1;
    }
    if (status == WaitStatus::ready && errno == ECONNABORTED) continue;
    return finish(L, step_of(status));
  }
}

// --- connections -------------------------------------------------------------

int net_connect(lua_State* L) {
  const char* host = luaL_checkstring(L, 1);
  const lua_Integer port = check_port(L, 2);
  const Deadline deadline = deadline_after(opt_timeout(L, 3));
  ThreadState& ts = current_thread(L);
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (const char* err = resolve(host, port, false, &addr, &len)) return push_fail(L, err);
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return push_fail(L, std::strerror(errno));
  Socket* s = push_socket(L, kConnection, fd);  // closes fd if anything below fails
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno != EINPROGRESS) return push_fail(L, std::strerror(errno));
    const Step step = wait_for(ts, fd, POLLOUT, deadline);
    if (step.error) {
      s->close();
      return finish(L, step);
    }
    int err = 0;
    socklen_t err_len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) {
      s->close();
      return push_fail(L, std::strerror(err));
    }
  }
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return 1;
}

int conn_send(lua_State* L) {
  Socket* s = check_object<Socket>(L, 1, kConnection);
  std::size_t len = 0;
  const char* data = luaL_checklstring(L, 2, &len);
  if (s->fd < 0) return push_fail(L, "closed");
  ThreadState& ts = current_thread(L);
  const Deadline deadline = deadline_after(s->timeout);
  std::size_t sent = 0;
  Step step;
  while (sent < len) {
    WaitStatus status = WaitStatus::ready;
    const ssize_t n = io_call(ts, s->fd, POLLOUT, deadline, &status, [&] {
      return ::send(s->fd, data + sent, len - sent, MSG_NOSIGNAL);
    });
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    const bool closed = status == WaitStatus::ready && (errno == EPIPE || errno == ECONNRESET);
    step = closed ? Step{"closed"} : step_of(status);
    break;
  }
  if (step.error) {
    const int n = finish(L, step);
    lua_pushinteger(L, static_cast<lua_Integer>(sent));
    return n + 1;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(len));
  return 1;
}

// take() pushes the first n bytes of the inbox and drops them from it.
int take(lua_State* L, Socket& s, std::size_t n, std::size_t skip = 0) {
  lua_pushlstring(L, s.inbox.data(), n);
  s.inbox.erase(0, n + skip);
  return 1;
}

int conn_receive(lua_State* L) {
  Socket* s = check_object<Socket>(L, 1, kConnection);
  const bool by_count = lua_type(L, 2) == LUA_TNUMBER;
  const char* pattern = by_count ? nullptr : luaL_optstring(L, 2, "*l");
  lua_Integer count = 0;
  if (by_count) {
    count = luaL_checkinteger(L, 2);
    luaL_argcheck(L, count >= 0, 2, "byte count must not be negative");
  } else if (std::strcmp(pattern, "*l") != 0 && std::strcmp(pattern, "*a") != 0) {
    return luaL_argerror(L, 2, "expected a byte count, '*l' or '*a'");
  }
  if (s->fd < 0) return push_fail(L, "closed");
  ThreadState& ts = current_thread(L);
  const Deadline deadline = deadline_after(s->timeout);
  Step step;
  if (by_count) {
    while (s->inbox.size() < static_cast<std::size_t>(count) && !step.error) {
      step = read_some(ts, *s, deadline);
    }
    if (!step.error) return take(L, *s, static_cast<std::size_t>(count));
  } else if (pattern[1] == 'l') {
    std::size_t eol;
    while ((eol = s->inbox.find('\n')) == std::string::npos && !step.error) {
      step = read_some(ts, *s, deadline);
    }
    if (!step.error) {
      const std::size_t end = eol > 0 && s->inbox[eol - 1] == '\r' ? eol - 1 : eol;
      return take(L, *s, end, eol + 1 - end);
    }
  } else {  // "*a": everything until the peer closes
    while (!step.error) step = read_some(ts, *s, deadline);
    if (std::strcmp(step.error, "closed") == 0) return take(L, *s, s->inbox.size());
  }
  // Failed: hand back what arrived as the partial result.
  const int n = finish(L, step, s->inbox.data(), s->inbox.size());
  s->inbox.clear();
  return n;
}

int sock_settimeout(lua_State* L) {
  Socket* s = check_socket(L);
  s->timeout = opt_timeout(L, 2);
  lua_pushboolean(L, 1);
  return 1;
}

int sock_close(lua_State* L) {
  check_socket(L)->close();
  lua_pushboolean(L, 1);
  return 1;
}

int name_of(lua_State* L, bool peer) {
  Socket* s = check_socket(L);
  if (s->fd < 0) return push_fail(L, "closed");
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int rc = peer ? getpeername(s->fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : getsockname(s->fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return push_fail(L, std::strerror(errno));
  return push_address(L, addr);
}

int sock_getsockname(lua_State* L) { return name_of(L, false); }
int sock_getpeername(lua_State* L) { return name_of(L, true); }

int sock_tostring(lua_State* L) {
  Socket* s = check_socket(L);
  const bool server = luaL_testudata(L, 1, kServer) != nullptr;
  lua_pushfstring(L, "net %s (%s)", server ? "server" : "connection",
                  s->fd < 0 ? "closed" : "open");
  return 1;
}

}  // namespace

int luaopen_net(lua_State* L) {
  static const luaL_Reg server_methods[] = {{"accept", server_accept},
                                            {"getsockname", sock_getsockname},
                                            {"settimeout", sock_settimeout},
                                            {"close", sock_close},
                                            {"__tostring", sock_tostring},
                                            {nullptr, nullptr}};
  define_class(L, kServer, server_methods, destroy_object<Socket>);
  static const luaL_Reg connection_methods[] = {{"send", conn_send},
                                                {"receive", conn_receive},
                                                {"getsockname", sock_getsockname},
                                                {"getpeername", sock_getpeername},
                                                {"settimeout", sock_settimeout},
                                                {"close", sock_close},
                                                {"__tostring", sock_tostring},
                                                {nullptr, nullptr}};
  define_class(L, kConnection, connection_methods, destroy_object<Socket>);
  static const luaL_Reg functions[] = {
      {"listen", net_listen}, {"connect", net_connect}, {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace gilrun
