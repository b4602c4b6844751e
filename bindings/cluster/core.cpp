// core.cpp — `cluster.core`, the C++ half of the cluster module: Redis
// connections whose waits are gilrun waits, JSON, base64, the value codec as
// strings, ids and clocks. Internal: cluster.lua and its parts build the
// Celery protocol from these; scripts use `cluster`.
//
//   core.connect(url [, timeout]) --> conn | nil, message
//   conn:call(cmd, ...)        --> reply | nil, message, kind
//   conn:pipeline{{cmd,...},...} --> {reply...} | nil, message, kind
//   conn:send(cmd, ...)        --> true | nil, message, kind   (no reply read)
//   conn:read([timeout])       --> reply | nil, message, kind  (pub/sub)
//   conn:settimeout(seconds)   -- the limit for call/pipeline (default 30 s)
//   conn:close() conn:wake() conn:connected()
//   core.json_encode(v [, root]) --> text | nil, message
//   core.json_decode(text)     --> true, v | false, message
//   core.msgpack_decode(bytes) --> true, v | false, message  (Celery's msgpack)
//   core.b64encode(s) core.b64decode(s)
//   core.encode(root, ...)     --> bytes | nil, message   (value codec)
//   core.decode(bytes)         --> true, ... | false, message
//   core.null                  -- encodes as JSON null
//   core.uuid() core.now() core.hostname() core.pid() core.exit_now(code)
//   core.fd_write(fd, s) core.fd_poll(fd)  -- the supervisor's socket
//
// Replies: strings and status replies are strings, integers integers, a nil
// reply nil (false inside an array), an array a sequence; a Redis error is
// `nil, "ERR ...", "reply"` (inside a pipeline, {err = "ERR ..."}). `kind`
// says what failed: "reply" (Redis said no; the connection is fine),
// "timeout", or "closed" (the connection is gone: reconnect). Ctrl-C raises.
//
// One connection is used by one thread at a time: a second thread calling
// while the first waits is an error (conn:wake() is the one exception: it
// ends another thread's wait, so a reader can be stopped).
#include <lua.hpp>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cluster/base64.h"
#include "cluster/json.h"
#include "cluster/msgpack_value.h"
#include "cluster/redis_client.h"
#include "codec/value_codec.h"
#include "wait/fd_write.h"
#include "support.h"

namespace gilrun {
namespace {

using cluster::IoStatus;
using cluster::RedisClient;
using cluster::Reply;

constexpr const char* kConn = "gilrun.cluster.conn";
constexpr double kDefaultTimeout = 30.0;

struct Conn {
  explicit Conn(cluster::RedisUrl url) : client(std::move(url)) {}
  RedisClient client;
  double timeout = kDefaultTimeout;
  bool busy = false;
};

// Outcome is what a call leaves for the Lua side once its C++ scope closed.
struct Outcome {
  IoStatus status = IoStatus::ok;
  std::string message;
};

// push_outcome() ends a failed call: nil, message, kind; Ctrl-C raises.
int push_outcome(lua_State* L, const Outcome& o) {
  if (o.status == IoStatus::interrupted) raise_interrupted(L);
  lua_pushnil(L);
  lua_pushlstring(L, o.message.data(), o.message.size());
  lua_pushstring(L, o.status == IoStatus::timed_out ? "timeout" : "closed");
  return 3;
}

void push_reply(lua_State* L, const redisReply* r, bool nested) {
  luaL_checkstack(L, 3, "reply nested too deeply");
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      lua_pushlstring(L, r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      lua_pushinteger(L, static_cast<lua_Integer>(r->integer));
      break;
    case REDIS_REPLY_ARRAY:
      lua_createtable(L, static_cast<int>(r->elements), 0);
      for (size_t i = 0; i < r->elements; ++i) {
        push_reply(L, r->element[i], true);
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
      }
      break;
    case REDIS_REPLY_ERROR:
      lua_createtable(L, 0, 1);
      lua_pushlstring(L, r->str, r->len);
      lua_setfield(L, -2, "err");
      break;
    default:  // REDIS_REPLY_NIL
      if (nested) lua_pushboolean(L, 0);
      else lua_pushnil(L);
  }
}

// strings_at() reads the arguments first..top as command words.
std::vector<std::string> strings_at(lua_State* L, int first, int last) {
  std::vector<std::string> argv;
  for (int i = first; i <= last; ++i) {
    size_t n = 0;
    const char* s = lua_tolstring(L, i, &n);
    argv.emplace_back(s, n);
  }
  return argv;
}

void check_words(lua_State* L, int first, int last) {
  luaL_argcheck(L, last >= first, first, "a Redis command expected");
  for (int i = first; i <= last; ++i) {
    const int t = lua_type(L, i);
    luaL_argcheck(L, t == LUA_TSTRING || t == LUA_TNUMBER, i, "a command word must be a string or a number");
  }
}

Conn* check_conn(lua_State* L) {
  auto* c = check_object<Conn>(L, 1, kConn);
  if (c->busy) luaL_error(L, "this Redis connection is in use by another thread");
  return c;
}

Deadline conn_deadline(const Conn* c) { return deadline_after(c->timeout); }

// Busy marks a connection in use for the length of one call.
struct Busy {
  explicit Busy(Conn* c) : c_(c) { c_->busy = true; }
  ~Busy() { c_->busy = false; }
  Conn* c_;
};

int core_connect(lua_State* L) {
  const char* url = luaL_checkstring(L, 1);
  const std::optional<double> timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  Outcome o;
  {
    cluster::RedisUrl parsed;
    if (!cluster::parse_redis_url(url, &parsed, &o.message)) {
      o.status = IoStatus::failed;
    } else {
      Conn* c = new_object<Conn>(L, kConn, 0, parsed);
      Busy busy(c);
      o.status = c->client.connect(ts, deadline_after(timeout ? timeout : kDefaultTimeout), &o.message);
      if (o.status == IoStatus::ok) return 1;
    }
  }
  if (o.status == IoStatus::interrupted) raise_interrupted(L);
  return push_fail(L, o.message.c_str());
}

int conn_call(lua_State* L) {
  Conn* c = check_conn(L);
  check_words(L, 2, lua_gettop(L));
  ThreadState& ts = current_thread(L);
  Outcome o;
  {
    Reply reply;
    {
      Busy busy(c);
      o.status = c->client.command(ts, strings_at(L, 2, lua_gettop(L)), conn_deadline(c), &reply, &o.message);
    }
    if (o.status == IoStatus::ok) {
      if (reply->type == REDIS_REPLY_ERROR) {
        lua_pushnil(L);
        lua_pushlstring(L, reply->str, reply->len);
        lua_pushliteral(L, "reply");
        return 3;
      }
      push_reply(L, reply.get(), false);
      return 1;
    }
  }
  return push_outcome(L, o);
}

int conn_pipeline(lua_State* L) {
  Conn* c = check_conn(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  const lua_Integer n = luaL_len(L, 2);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, 2, i);
    luaL_argcheck(L, lua_type(L, -1) == LUA_TTABLE, 2, "a list of commands (tables) expected");
    const lua_Integer words = luaL_len(L, -1);
    luaL_checkstack(L, static_cast<int>(words) + 4, "command too long");
    for (lua_Integer w = 1; w <= words; ++w) lua_rawgeti(L, -1 - static_cast<int>(w - 1), w);
    check_words(L, lua_gettop(L) - static_cast<int>(words) + 1, lua_gettop(L));
    lua_settop(L, 2);
  }
  ThreadState& ts = current_thread(L);
  Outcome o;
  {
    std::vector<Reply> replies;
    {
      Busy busy(c);
      for (lua_Integer i = 1; i <= n; ++i) {
        lua_rawgeti(L, 2, i);
        const int words = static_cast<int>(luaL_len(L, -1));
        for (int w = 1; w <= words; ++w) lua_rawgeti(L, -w, w);
        c->client.append(strings_at(L, lua_gettop(L) - words + 1, lua_gettop(L)));
        lua_settop(L, 2);
      }
      const Deadline deadline = conn_deadline(c);
      o.status = c->client.flush(ts, deadline, &o.message);
      for (lua_Integer i = 1; i <= n && o.status == IoStatus::ok; ++i) {
        Reply r;
        o.status = c->client.read(ts, deadline, &r, &o.message);
        if (o.status == IoStatus::ok) replies.push_back(std::move(r));
      }
      if (o.status == IoStatus::timed_out || o.status == IoStatus::interrupted) c->client.close();
    }
    if (o.status == IoStatus::ok) {
      lua_createtable(L, static_cast<int>(n), 0);
      for (size_t i = 0; i < replies.size(); ++i) {
        push_reply(L, replies[i].get(), true);
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
      }
      return 1;
    }
  }
  return push_outcome(L, o);
}

int conn_send(lua_State* L) {
  Conn* c = check_conn(L);
  check_words(L, 2, lua_gettop(L));
  ThreadState& ts = current_thread(L);
  Outcome o;
  {
    Busy busy(c);
    c->client.append(strings_at(L, 2, lua_gettop(L)));
    o.status = c->client.flush(ts, conn_deadline(c), &o.message);
  }
  if (o.status == IoStatus::ok) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return push_outcome(L, o);
}

int conn_read(lua_State* L) {
  Conn* c = check_conn(L);
  const std::optional<double> timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  Outcome o;
  {
    Reply reply;
    {
      Busy busy(c);
      o.status = c->client.read(ts, deadline_after(timeout), &reply, &o.message);
    }
    if (o.status == IoStatus::ok) {
      push_reply(L, reply.get(), false);
      return 1;
    }
  }
  if (o.status == IoStatus::timed_out) o.message = "timeout";
  return push_outcome(L, o);
}

int conn_settimeout(lua_State* L) {
  auto* c = check_object<Conn>(L, 1, kConn);
  c->timeout = luaL_checknumber(L, 2);
  luaL_argcheck(L, c->timeout > 0 && c->timeout == c->timeout, 2, "timeout must be positive");
  return 0;
}

int conn_close(lua_State* L) {
  check_conn(L)->client.close();
  return 0;
}

int conn_wake(lua_State* L) {
  check_object<Conn>(L, 1, kConn)->client.wake();
  return 0;
}

int conn_connected(lua_State* L) {
  lua_pushboolean(L, check_object<Conn>(L, 1, kConn)->client.connected());
  return 1;
}

int conn_url(lua_State* L) {
  lua_pushstring(L, check_object<Conn>(L, 1, kConn)->client.url().text.c_str());
  return 1;
}

int conn_reconnect(lua_State* L) {
  Conn* c = check_conn(L);
  const std::optional<double> timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  Outcome o;
  {
    Busy busy(c);
    o.status = c->client.connect(ts, deadline_after(timeout ? timeout : c->timeout), &o.message);
  }
  if (o.status == IoStatus::ok) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return push_outcome(L, o);
}

int core_json_encode(lua_State* L) {
  luaL_checkany(L, 1);
  const char* root = luaL_optstring(L, 2, "value");
  bool ok;
  {
    std::string out, error;
    ok = cluster::json_encode(L, 1, root, &out, &error);
    if (ok) {
      lua_pushlstring(L, out.data(), out.size());
      return 1;
    }
    lua_pushnil(L);
    lua_pushlstring(L, error.data(), error.size());
  }
  return 2;
}

int core_json_decode(lua_State* L) {
  size_t n = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  {
    std::string error;
    lua_pushboolean(L, 1);
    if (cluster::json_decode(L, s, n, &error)) return 2;
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
    lua_pushlstring(L, error.data(), error.size());
  }
  return 2;
}

int core_msgpack_decode(lua_State* L) {
  size_t n = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  {
    std::string error;
    lua_pushboolean(L, 1);
    if (cluster::msgpack_decode(L, s, n, &error)) return 2;
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
    lua_pushlstring(L, error.data(), error.size());
  }
  return 2;
}

int core_b64encode(lua_State* L) {
  size_t n = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  {
    const std::string out = cluster::base64_encode(std::string(s, n));
    lua_pushlstring(L, out.data(), out.size());
  }
  return 1;
}

int core_b64decode(lua_State* L) {
  size_t n = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  {
    std::string out;
    if (cluster::base64_decode(std::string(s, n), &out)) {
      lua_pushlstring(L, out.data(), out.size());
      return 1;
    }
  }
  return push_fail(L, "bad base64 text");
}

int core_encode(lua_State* L) {
  const char* root = luaL_checkstring(L, 1);
  {
    std::string out, error;
    if (encode_values(L, 2, lua_gettop(L) - 1, root, &out, &error)) {
      lua_pushlstring(L, out.data(), out.size());
      return 1;
    }
    lua_pushnil(L);
    lua_pushlstring(L, error.data(), error.size());
  }
  return 2;
}

int core_decode(lua_State* L) {
  size_t n = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  lua_settop(L, 1);
  {
    std::string error;
    int count = 0;
    lua_pushboolean(L, 1);
    if (decode_values(L, s, n, &count, &error)) return count + 1;
    lua_settop(L, 1);
    lua_pushboolean(L, 0);
    lua_pushlstring(L, error.data(), error.size());
  }
  return 2;
}

int core_uuid(lua_State* L) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  char s[40];
  std::snprintf(s, sizeof s, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0x0FFF),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3FFF)),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  lua_pushstring(L, s);
  return 1;
}

int core_now(lua_State* L) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  lua_pushnumber(L, static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6);
  return 1;
}

int core_hostname(lua_State* L) {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) != 0) std::snprintf(name, sizeof name, "localhost");
  lua_pushstring(L, name);
  return 1;
}

int core_pid(lua_State* L) {
  lua_pushinteger(L, getpid());
  return 1;
}

// fd_write() writes a short line to the supervisor's socket (blocking; the
// supervisor always reads).
int core_fd_write(lua_State* L) {
  const int fd = static_cast<int>(luaL_checkinteger(L, 1));
  size_t n = 0;
  const char* s = luaL_checklstring(L, 2, &n);
  size_t off = 0;
  while (off < n) {
    const ssize_t w = write_nosignal(fd, s + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  lua_pushboolean(L, off == n);
  return 1;
}

// fd_poll() reads what is there without waiting: the bytes, nil if none,
// false at end of file (or an error).
int core_fd_poll(lua_State* L) {
  const int fd = static_cast<int>(luaL_checkinteger(L, 1));
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) {
    lua_pushnil(L);
    return 1;
  }
  char buffer[512];
  ssize_t n;
  do {
    n = ::read(fd, buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushlstring(L, buffer, static_cast<size_t>(n));
  return 1;
}

int core_exit_now(lua_State* L) {
  const int code = static_cast<int>(luaL_optinteger(L, 1, 1));
  std::fflush(nullptr);
  _exit(code);
}

}  // namespace

int luaopen_cluster_core(lua_State* L) {
  static const luaL_Reg methods[] = {{"call", conn_call},           {"pipeline", conn_pipeline},
                                     {"send", conn_send},           {"read", conn_read},
                                     {"settimeout", conn_settimeout}, {"close", conn_close},
                                     {"wake", conn_wake},           {"connected", conn_connected},
                                     {"url", conn_url},             {"reconnect", conn_reconnect},
                                     {nullptr, nullptr}};
  define_class(L, kConn, methods, destroy_object<Conn>);
  static const luaL_Reg functions[] = {
      {"connect", core_connect},     {"json_encode", core_json_encode},
      {"json_decode", core_json_decode}, {"msgpack_decode", core_msgpack_decode},
      {"b64encode", core_b64encode},
      {"b64decode", core_b64decode}, {"encode", core_encode},
      {"decode", core_decode},       {"uuid", core_uuid},
      {"now", core_now},             {"hostname", core_hostname},
      {"pid", core_pid},             {"exit_now", core_exit_now},
      {"fd_write", core_fd_write},   {"fd_poll", core_fd_poll},
      {nullptr, nullptr}};
  luaL_newlib(L, functions);
  lua_pushlightuserdata(L, nullptr);  // JSON null inside arrays (json.h)
  lua_setfield(L, -2, "null");
  return 1;
}

}  // namespace gilrun
