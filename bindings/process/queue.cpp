// queue.cpp — process.queue: a queue shared by a parent and its
// child processes (multiprocessing.Queue semantics).
//
//   local q = process.queue([maxsize])    -- maxsize: nil/0 = unbounded
//   q:put(v [, timeout]) --> true | nil, "timeout"   (v ~= nil)
//   q:get([timeout])     --> v | nil, "timeout"
//
// Notes on the design
// -------------------
// A queue is a SOCK_DGRAM socketpair: producers send datagrams into end A,
// consumers receive them from end B. Every process that holds both ends —
// the creator and every child started while the queue was alive (children
// inherit the descriptors under the same numbers) — can put and get. The
// kernel does all the locking: one datagram is one item, delivered whole to
// exactly one receiver, so there is no feeder thread (CPython has one) and no
// lock shared between processes. A put of a small item is one sendmsg(); a
// get one recvmsg().
//
// Items are value_codec payloads. One up to kInlineLimit bytes travels in the
// datagram itself (after a kind byte 'I'); a larger one is written into a
// memfd whose descriptor travels with a one-byte datagram 'M' (SCM_RIGHTS),
// so an item's size is limited by memory, not by the socket buffer.
//
// Bounded queues (maxsize > 0) count free slots in an eventfd in semaphore
// mode, created with `maxsize`: put takes a slot (a read that fails with
// EAGAIN when none is free — the eventfd is then waited on like any
// descriptor), get gives one back. An unbounded queue's puts block only when
// the socket buffer (raised to net.core.wmem_max, ~10K small items here) is
// full. Every wait goes through wait_fd(): the GIL is released, a green thread
// yields, Ctrl-C ends it.
//
// Crossing to a child: a queue is a codec handle (value_codec.h, "Handles").
// Its token is "queue <id> <send fd> <recv fd> <slots fd> <maxsize>"; the
// child's opener accepts only ids its parent passed at start (adopt_queues),
// so a queue created after a child started is a clear error in that child,
// never a stray descriptor. A queue handed over twice is two userdata on the
// same queue.
#include "process/queue.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "wait/io_wait.h"
#include "support.h"
#include "codec/handles.h"
#include "codec/value_codec.h"

namespace gilrun {
namespace {

constexpr const char* kQueue = "gilrun.process.queue";
constexpr size_t kInlineLimit = 64 * 1024;

// Channel is the descriptors of one queue. The creating process owns (and
// closes) them; a child's adopted channels live as long as the child.
struct Channel {
  std::string id;
  int send_fd = -1, recv_fd = -1, slots_fd = -1;
  lua_Integer maxsize = 0;
  bool owned = false;
  ~Channel() {
    if (!owned) return;
    for (int fd : {send_fd, recv_fd, slots_fd})
      if (fd >= 0) close(fd);
  }
  std::string token() const {
    char buf[160];
    std::snprintf(buf, sizeof buf, "queue %s %d %d %d %lld", id.c_str(), send_fd, recv_fd,
                  slots_fd, static_cast<long long>(maxsize));
    return buf;
  }
};

// The registry of this process's queues, by id. Several interpreters may
// share a process (tests do), hence a mutex and not the GIL.
struct Registry {
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<Channel>> live;       // created here
  std::map<std::string, std::shared_ptr<Channel>> adopted;  // from the parent
};
Registry& registry() {
  static Registry* r = new Registry();  // outlives every interpreter
  return *r;
}

std::shared_ptr<Channel> parse_token(const std::string& token) {
  std::istringstream in(token);
  std::string word;
  auto c = std::make_shared<Channel>();
  long long maxsize = 0;
  if (!(in >> word >> c->id >> c->send_fd >> c->recv_fd >> c->slots_fd >> maxsize) ||
      word != "queue")
    return nullptr;
  c->maxsize = maxsize;
  return c;
}

struct Queue {
  std::shared_ptr<Channel> channel;
};

void push_queue(lua_State* L, std::shared_ptr<Channel> channel) {
  new_object<Queue>(L, kQueue, 0)->channel = std::move(channel);
}

std::shared_ptr<Channel> create_channel(lua_Integer maxsize, std::string* error) {
  static std::atomic<unsigned> counter{0};
  auto c = std::make_shared<Channel>();
  c->owned = true;
  c->maxsize = maxsize;
  c->id = std::to_string(getpid()) + "." + std::to_string(++counter);
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
    *error = std::strerror(errno);
    return nullptr;
  }
  c->send_fd = fds[0];
  c->recv_fd = fds[1];
  const int big = 4 << 20;  // capped by net.core.wmem_max / rmem_max
  setsockopt(c->send_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  setsockopt(c->recv_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (maxsize > 0) {
    c->slots_fd = eventfd(static_cast<unsigned>(maxsize), EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->slots_fd < 0) {
      *error = std::strerror(errno);
      return nullptr;
    }
  }
  std::lock_guard<std::mutex> lock(registry().mutex);
  registry().live[c->id] = c;
  return c;
}

// ---- the steps of put and get; each returns a WaitStatus, errno-style
// failures as ready with *error set.

WaitStatus take_slot(ThreadState& ts, const Channel& c, const Deadline& deadline) {
  if (c.slots_fd < 0) return WaitStatus::ready;
  uint64_t one;
  while (read(c.slots_fd, &one, sizeof one) < 0) {
    if (errno == EINTR) continue;
    const WaitStatus status = wait_fd(ts, c.slots_fd, POLLIN, deadline);
    if (status != WaitStatus::ready) return status;
  }
  return WaitStatus::ready;
}

void give_slot(const Channel& c) {
  if (c.slots_fd < 0) return;
  const uint64_t one = 1;
  while (write(c.slots_fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

// spill() puts a large payload into a memfd; returns it or -1.
int spill(const std::string& payload) {
  const int fd = memfd_create("gilrun-queue-item", MFD_CLOEXEC);
  if (fd < 0) return -1;
  for (size_t off = 0; off < payload.size();) {
    const ssize_t w = write(fd, payload.data() + off, payload.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      close(fd);
      return -1;
    }
    off += size_t(w);
  }
  return fd;
}

WaitStatus send_item(ThreadState& ts, const Channel& c, const std::string& payload,
                     const Deadline& deadline, std::string* error) {
  const bool inline_item = payload.size() <= kInlineLimit;
  const int memfd = inline_item ? -1 : spill(payload);
  if (!inline_item && memfd < 0) {
    *error = std::string("cannot store a large item: ") + std::strerror(errno);
    return WaitStatus::ready;
  }
  char kind = inline_item ? 'I' : 'M';
  iovec iov[2] = {{&kind, 1}, {const_cast<char*>(payload.data()), inline_item ? payload.size() : 0}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  if (!inline_item) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
  }
  WaitStatus status = WaitStatus::ready;
  while (sendmsg(c.send_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      *error = std::strerror(errno);
      break;
    }
    status = wait_fd(ts, c.send_fd, POLLOUT, deadline);
    if (status != WaitStatus::ready) break;
  }
  if (memfd >= 0) close(memfd);
  return status;
}

// read_spilled() reads a memfd item into *payload.
bool read_spilled(int fd, std::string* payload) {
  struct stat st;
  bool ok = fstat(fd, &st) == 0;
  if (ok) payload->resize(static_cast<size_t>(st.st_size));
  for (size_t off = 0; ok && off < payload->size();) {
    const ssize_t n = pread(fd, &(*payload)[off], payload->size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += size_t(n);
  }
  close(fd);
  return ok;
}

WaitStatus receive_item(ThreadState& ts, const Channel& c, const Deadline& deadline,
                        std::string* payload, std::string* error) {
  payload->resize(kInlineLimit + 1);
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  iovec iov{&(*payload)[0], payload->size()};
  msghdr msg{};
  ssize_t n;
  while (true) {
    msg = msghdr{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    n = recvmsg(c.recv_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      *error = std::strerror(errno);
      return WaitStatus::ready;
    }
    const WaitStatus status = wait_fd(ts, c.recv_fd, POLLIN, deadline);
    if (status != WaitStatus::ready) return status;
  }
  give_slot(c);
  int memfd = -1;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
      std::memcpy(&memfd, CMSG_DATA(cm), sizeof(int));
  if (n >= 1 && (*payload)[0] == 'I') {
    payload->resize(size_t(n));
    payload->erase(0, 1);
    if (memfd >= 0) close(memfd);
  } else if (n == 1 && (*payload)[0] == 'M' && memfd >= 0) {
    if (!read_spilled(memfd, payload)) *error = "cannot read a large item";
  } else {
    if (memfd >= 0) close(memfd);
    *error = "corrupt queue item";
  }
  return WaitStatus::ready;
}

// ---- Lua

int queue_new(lua_State* L) {
  const lua_Integer maxsize = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, maxsize >= 0 && maxsize < (lua_Integer(1) << 31), 1,
                "maxsize must be 0 (unbounded) .. 2^31-1");
  bool failed = false;
  {
    std::string error;
    auto channel = create_channel(maxsize, &error);
    if (channel) {
      push_queue(L, std::move(channel));
    } else {
      lua_pushfstring(L, "process.queue: %s", error.c_str());
      failed = true;
    }
  }
  if (failed) return lua_error(L);
  return 1;
}

int queue_put(lua_State* L) {
  Queue* q = check_object<Queue>(L, 1, kQueue);
  luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "cannot put nil into a queue");
  const auto timeout = opt_timeout(L, 3);
  ThreadState& ts = current_thread(L);
  WaitStatus status = WaitStatus::ready;
  bool failed = false;  // raise the message on the top, once the strings are gone
  {
    std::string payload, error;
    if (!encode_values(L, 2, 1, "item", &payload, &error)) {
      lua_pushstring(L, error.c_str());
      failed = true;
    } else {
      const Deadline deadline = deadline_after(timeout);
      status = take_slot(ts, *q->channel, deadline);
      if (status == WaitStatus::ready) {
        status = send_item(ts, *q->channel, payload, deadline, &error);
        if (status != WaitStatus::ready || !error.empty()) give_slot(*q->channel);
      }
      if (status == WaitStatus::ready && !error.empty()) {
        lua_pushfstring(L, "queue put: %s", error.c_str());
        failed = true;
      }
    }
  }
  if (failed) return lua_error(L);
  return push_wait_result(L, status);
}

int queue_get(lua_State* L) {
  Queue* q = check_object<Queue>(L, 1, kQueue);
  const auto timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  WaitStatus status;
  bool failed = false;  // raise the message on the top, once the strings are gone
  int count = 0;
  {
    std::string payload, error;
    status = receive_item(ts, *q->channel, deadline_after(timeout), &payload, &error);
    if (status == WaitStatus::ready && !error.empty()) {
      lua_pushfstring(L, "queue get: %s", error.c_str());
      failed = true;
    } else if (status == WaitStatus::ready &&
               !decode_values(L, payload.data(), payload.size(), &count, &error)) {
      lua_pushfstring(L, "queue get: %s", error.c_str());
      failed = true;
    }
  }
  if (failed) return lua_error(L);
  if (status != WaitStatus::ready) return push_wait_result(L, status);
  return count;
}

// queue_handle() is the queue's codec handle: its token.
int queue_handle(lua_State* L) {
  Queue* q = check_object<Queue>(L, 1, kQueue);
  const std::string token = q->channel->token();
  lua_pushlstring(L, token.data(), token.size());
  return 1;
}

int queue_tostring(lua_State* L) {
  Queue* q = check_object<Queue>(L, 1, kQueue);
  lua_pushfstring(L, "process.queue %s (maxsize %d)", q->channel->id.c_str(),
                  static_cast<int>(q->channel->maxsize));
  return 1;
}

// open_handle(token) --> queue | nil, reason : the codec's opener.
int open_handle(lua_State* L) {
  size_t len = 0;
  const char* text = luaL_checklstring(L, 1, &len);
  std::shared_ptr<Channel> channel;
  bool known_kind = false;
  {
    const std::string token(text, len);
    const auto parsed = parse_token(token);
    known_kind = parsed != nullptr;
    if (parsed) {
      std::lock_guard<std::mutex> lock(registry().mutex);
      auto& r = registry();
      const auto live = r.live.find(parsed->id);
      if (live != r.live.end()) channel = live->second.lock();
      const auto adopted = r.adopted.find(parsed->id);
      if (!channel && adopted != r.adopted.end()) channel = adopted->second;
    }
  }
  if (channel) {
    push_queue(L, std::move(channel));
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, known_kind ? "this process did not inherit that queue (create queues "
                                 "before starting the processes that use them)"
                               : "unknown handle");
  return 2;
}

}  // namespace

SharedQueues shared_queues() {
  SharedQueues out;
  std::lock_guard<std::mutex> lock(registry().mutex);
  auto add = [&](const Channel& c) {
    for (int fd : {c.send_fd, c.recv_fd, c.slots_fd})
      if (fd >= 0) out.fds.push_back(fd);
    out.tokens.push_back(c.token());
  };
  auto& r = registry();
  for (auto it = r.live.begin(); it != r.live.end();) {
    if (auto c = it->second.lock()) {
      add(*c);
      ++it;
    } else {
      it = r.live.erase(it);
    }
  }
  for (const auto& entry : r.adopted) add(*entry.second);
  return out;
}

void adopt_queues(const std::vector<std::string>& tokens) {
  std::lock_guard<std::mutex> lock(registry().mutex);
  for (const auto& token : tokens) {
    auto c = parse_token(token);
    if (!c) continue;
    for (int fd : {c->send_fd, c->recv_fd, c->slots_fd})
      if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    registry().adopted[c->id] = c;
  }
}

void install_handle_opener(lua_State* L) {
  static const luaL_Reg methods[] = {{"put", queue_put},
                                     {"get", queue_get},
                                     {kHandleMetafield, queue_handle},
                                     {"__tostring", queue_tostring},
                                     {nullptr, nullptr}};
  define_class(L, kQueue, methods, destroy_object<Queue>);
  lua_pushcfunction(L, open_handle);
  lua_setfield(L, LUA_REGISTRYINDEX, kHandleOpenerKey);
}

void add_queue_functions(lua_State* L) {
  lua_pushcfunction(L, queue_new);
  lua_setfield(L, -2, "queue");
}

}  // namespace gilrun
