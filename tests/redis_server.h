// redis_server.h — RedisServer: a private redis-server for one test, on a
// free loopback port in a temporary directory (never the system's server),
// stopped (and its directory removed) when the object goes.
//
// Readiness is an event: the server logs to a pipe and start() returns once
// it printed "Ready to accept connections". command() is a small
// synchronous client (hiredis) for setting up and checking keys.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace gilrun::test {

class RedisServer {
 public:
  RedisServer() = default;
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // available() is false (with the reason) when redis-server is missing.
  static bool available(std::string* why);
  // start() starts the server (on the same port as before, if restarted);
  // false with *error set if it did not come up.
  bool start(std::string* error);
  void stop();
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  std::string url(int db = 0) const;

  // command() runs one command; returns the reply as text: a string or
  // status as itself, an integer in decimal, nil as "(nil)", an error as
  // "(error) ...", an array as its elements joined by "\n".
  std::string command(const std::vector<std::string>& argv);

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace gilrun::test
