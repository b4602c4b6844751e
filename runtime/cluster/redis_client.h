// redis_client.h — RedisClient: one connection to a Redis server, whose
// every wait is a gilrun wait. This file is private to the runtime.
//
// Notes
// -----
// hiredis does the protocol: redisFormatCommandArgv() writes RESP and a
// redisReader parses replies (what its async API and its libuv adapter are
// built on). The socket and its waits are ours: the descriptor is
// non-blocking and every wait goes through wait_fd() (wait/io_wait.h), the
// one place that knows how to wait in each context. In an OS thread that
// drops the GIL and sleeps in poll(); in a green thread (or an OS thread
// with green threads) it joins the hub's uv_poll for the descriptor, so a
// worker's broker traffic and its tasks' green threads share the thread's
// one libuv loop. We do not hand the descriptor to hiredis's libuv adapter
// (adapters/libuv.h): the adapter runs hiredis's callbacks from inside
// uv_run(), where the hub holds no GIL and may touch nothing of Lua's, and
// it only works on a thread that runs a hub at all; wait_fd() gives the
// same single loop without either problem.
//
// Every call takes a deadline; Ctrl-C ends a wait (interrupted). A
// connection that fails (reset, closed by the server, a protocol error) is
// closed here and says why; reconnecting, with backoff, is the caller's
// policy (cluster.lua), since only it knows what must be redone (SUBSCRIBE).
// A client is used by one thread at a time (the Lua binding checks).
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/redis_url.h"
#include "wait/clock.h"

namespace gilrun {
struct ThreadState;
}

namespace gilrun::cluster {

enum class IoStatus { ok, timed_out, interrupted, failed };

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

class RedisClient {
 public:
  explicit RedisClient(RedisUrl url);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // connect() opens the TCP connection (closing any old one), then sends
  // AUTH and SELECT as the URL asks. GIL held on entry and return.
  IoStatus connect(ThreadState& ts, const Deadline& deadline, std::string* error);
  bool connected() const { return fd_ >= 0; }
  const RedisUrl& url() const { return url_; }

  // append() queues one command; flush() writes everything queued.
  void append(const std::vector<std::string>& argv);
  IoStatus flush(ThreadState& ts, const Deadline& deadline, std::string* error);
  // read() takes the next reply (a command's, or a pub/sub message).
  IoStatus read(ThreadState& ts, const Deadline& deadline, Reply* out, std::string* error);
  // command() = append + flush + read.
  IoStatus command(ThreadState& ts, const std::vector<std::string>& argv, const Deadline& deadline,
                   Reply* out, std::string* error);

  // wake() shuts the socket down, so a read waiting in another thread ends
  // with "closed". Any thread; the owner still calls close().
  void wake();
  void close();

 private:
  IoStatus fail(const std::string& what, std::string* error);

  RedisUrl url_;
  int fd_ = -1;
  redisReader* reader_ = nullptr;
  std::string out_;
};

}  // namespace gilrun::cluster
