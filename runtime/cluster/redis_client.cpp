// redis_client.cpp — RedisClient (redis_client.h).
#include "cluster/redis_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wait/fd_write.h"
#include "wait/io_wait.h"

namespace gilrun::cluster {

RedisClient::RedisClient(RedisUrl url) : url_(std::move(url)) {}

RedisClient::~RedisClient() { close(); }

void RedisClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (reader_ != nullptr) redisReaderFree(reader_);
  reader_ = nullptr;
  out_.clear();
}

void RedisClient::wake() {
  const int fd = fd_;
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

IoStatus RedisClient::fail(const std::string& what, std::string* error) {
  *error = "Redis at " + url_.text + ": " + what;
  close();
  return IoStatus::failed;
}

namespace {

IoStatus from_wait(WaitStatus s) {
  if (s == WaitStatus::timed_out) return IoStatus::timed_out;
  if (s == WaitStatus::interrupted) return IoStatus::interrupted;
  return IoStatus::ok;
}

}  // namespace

IoStatus RedisClient::connect(ThreadState& ts, const Deadline& deadline, std::string* error) {
  close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // A name lookup (localhost, a host name in /etc/hosts) runs with the GIL
  // held: cluster URLs name addresses or local names, not remote DNS.
  const std::string port = std::to_string(url_.port);
  if (const int rc = getaddrinfo(url_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = "cannot connect to " + url_.text + ": " + gai_strerror(rc);
    return IoStatus::failed;
  }
  std::string last = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      const WaitStatus w = wait_fd(ts, fd, POLLOUT, deadline);
      if (w != WaitStatus::ready) {
        ::close(fd);
        freeaddrinfo(found);
        if (w == WaitStatus::timed_out) *error = "cannot connect to " + url_.text + ": timed out";
        return from_wait(w);
      }
      int so_error = 0;
      socklen_t len = sizeof so_error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (rc != 0) {
      last = std::strerror(errno);
      ::close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    break;
  }
  freeaddrinfo(found);
  if (fd_ < 0) {
    *error = "cannot connect to " + url_.text + ": " + last;
    return IoStatus::failed;
  }
  reader_ = redisReaderCreate();
  if (reader_ == nullptr) return fail("out of memory", error);
  auto setup = [&](const std::vector<std::string>& argv) -> IoStatus {
    Reply reply;
    const IoStatus s = command(ts, argv, deadline, &reply, error);
    if (s != IoStatus::ok) return s;
    if (reply->type == REDIS_REPLY_ERROR) {
      return fail(std::string(argv[0]) + " failed: " + std::string(reply->str, reply->len), error);
    }
    return IoStatus::ok;
  };
  if (!url_.password.empty()) {
    if (const IoStatus s = setup({"AUTH", url_.password}); s != IoStatus::ok) return s;
  }
  if (url_.db != 0) {
    if (const IoStatus s = setup({"SELECT", std::to_string(url_.db)}); s != IoStatus::ok) return s;
  }
  return IoStatus::ok;
}

void RedisClient::append(const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int n = redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), args.data(), lens.data());
  if (n > 0) {
    out_.append(cmd, static_cast<size_t>(n));
    redisFreeCommand(cmd);
  }
}

IoStatus RedisClient::flush(ThreadState& ts, const Deadline& deadline, std::string* error) {
  if (fd_ < 0) {
    *error = "Redis at " + url_.text + ": not connected";
    return IoStatus::failed;
  }
  size_t off = 0;
  while (off < out_.size()) {
    const ssize_t w = write_nosignal(fd_, out_.data() + off, out_.size() - off);
    if (w >= 0) {
      off += static_cast<size_t>(w);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const WaitStatus s = wait_fd(ts, fd_, POLLOUT, deadline);
      if (s != WaitStatus::ready) {
        out_.erase(0, off);
        if (s == WaitStatus::timed_out) *error = "Redis at " + url_.text + ": write timed out";
        return from_wait(s);
      }
    } else if (errno != EINTR) {
      return fail(std::string("connection lost: ") + std::strerror(errno), error);
    }
  }
  out_.clear();
  return IoStatus::ok;
}

IoStatus RedisClient::read(ThreadState& ts, const Deadline& deadline, Reply* out,
                           std::string* error) {
  if (fd_ < 0) {
    *error = "Redis at " + url_.text + ": not connected";
    return IoStatus::failed;
  }
  while (true) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
      return fail(std::string("protocol error: ") + reader_->errstr, error);
    }
    if (reply != nullptr) {
      out->reset(static_cast<redisReply*>(reply));
      return IoStatus::ok;
    }
    char buffer[16384];
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n > 0) {
      if (redisReaderFeed(reader_, buffer, static_cast<size_t>(n)) != REDIS_OK) {
        return fail(std::string("protocol error: ") + reader_->errstr, error);
      }
    } else if (n == 0) {
      return fail("connection closed", error);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const WaitStatus s = wait_fd(ts, fd_, POLLIN, deadline);
      if (s == WaitStatus::timed_out) *error = "Redis at " + url_.text + ": no reply in time";
      if (s != WaitStatus::ready) return from_wait(s);
    } else if (errno != EINTR) {
      return fail(std::string("connection lost: ") + std::strerror(errno), error);
    }
  }
}

IoStatus RedisClient::command(ThreadState& ts, const std::vector<std::string>& argv,
                              const Deadline& deadline, Reply* out, std::string* error) {
  append(argv);
  IoStatus s = flush(ts, deadline, error);
  if (s == IoStatus::ok) s = read(ts, deadline, out, error);
  // A reply still owed (timed out, Ctrl-C) would answer the next command:
  // the connection is no longer usable.
  if (s == IoStatus::timed_out || s == IoStatus::interrupted) close();
  return s;
}

}  // namespace gilrun::cluster
