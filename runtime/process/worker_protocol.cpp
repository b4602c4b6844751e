// worker_protocol.cpp — see worker_protocol.h.
#include "process/worker_protocol.h"

#include "wait/fd_write.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gilrun {
namespace {

void put_u32(std::string& out, uint32_t n) {
  const char bytes[4] = {char(n), char(n >> 8), char(n >> 16), char(n >> 24)};
  out.append(bytes, 4);
}

uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) | uint32_t(u[1]) << 8 | uint32_t(u[2]) << 16 | uint32_t(u[3]) << 24;
}

}  // namespace

std::string make_frame(char kind, const std::string& first, const std::string& second,
                       bool two_parts) {
  const size_t payload = two_parts ? 4 + first.size() + second.size() : first.size();
  std::string out;
  out.reserve(5 + payload);
  put_u32(out, static_cast<uint32_t>(payload));
  out.push_back(kind);
  if (two_parts) put_u32(out, static_cast<uint32_t>(first.size()));
  out.append(first);
  if (two_parts) out.append(second);
  return out;
}

bool split_parts(const std::string& payload, std::string* first, std::string* second) {
  if (payload.size() < 4) return false;
  const uint32_t n = get_u32(payload.data());
  if (n > payload.size() - 4) return false;
  first->assign(payload, 4, n);
  second->assign(payload, 4 + n, std::string::npos);
  return true;
}

bool FrameReader::take(Frame* frame) {
  if (buffer_.size() < 5) return false;
  const uint32_t n = get_u32(buffer_.data());
  if (buffer_.size() < 5 + size_t(n)) return false;
  frame->kind = buffer_[4];
  frame->payload.assign(buffer_, 5, n);
  buffer_.erase(0, 5 + size_t(n));
  return true;
}

FrameReader::Result FrameReader::read(int fd, Frame* frame) {
  if (take(frame)) return got_frame;
  char chunk[65536];
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, size_t(n));
      if (buffer_.size() >= 4 && get_u32(buffer_.data()) > kMaxFrame) return failed;
      if (take(frame)) return got_frame;
      continue;
    }
    if (n == 0) return closed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return need_more;
    return failed;
  }
}

WaitStatus send_frame(ThreadState& ts, int fd, const std::string& bytes, const Deadline& deadline,
                      std::string* error) {
  for (size_t off = 0; off < bytes.size();) {
    const ssize_t w = write_nosignal(fd, bytes.data() + off, bytes.size() - off);
    if (w >= 0) {
      off += size_t(w);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const WaitStatus status = wait_fd(ts, fd, POLLOUT, deadline);
      if (status != WaitStatus::ready) return status;
    } else if (errno != EINTR) {
      *error = std::strerror(errno);
      return WaitStatus::ready;
    }
  }
  return WaitStatus::ready;
}

bool write_blocking(int fd, const std::string& bytes) {
  for (size_t off = 0; off < bytes.size();) {
    const ssize_t w = write_nosignal(fd, bytes.data() + off, bytes.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += size_t(w);
  }
  return true;
}

}  // namespace gilrun
