// worker_protocol.h — the frames a parent and a gilrun worker process
// exchange over their socket. This file is private to the runtime.
//
// A frame is a 4-byte little-endian payload length, one kind byte and the
// payload. The values inside are value_codec payloads (MessagePack):
//
//   parent -> worker   'T'  task:   part(function payload) args payload
//                      'S'  script: part(path) args payload
//   worker -> parent   'R'  results payload
//                      'E'  error payload: [error value, traceback]
//                           (the task failed; value_codec.h's encode_error)
//
// part(x) is x prefixed by its 4-byte little-endian length, so a payload of
// two parts needs no escaping. A worker runs tasks until the parent closes
// its end (a one-shot spawn shuts down its writing side after the task;
// a pool worker gets task after task).
#pragma once

#include <cstdint>
#include <string>

#include "wait/io_wait.h"

namespace gilrun {

struct Frame {
  char kind = 0;
  std::string payload;
};

constexpr uint32_t kMaxFrame = 1u << 30;  // 1 GiB: larger is a corrupt stream

// make_frame() builds the bytes of a frame whose payload is part(first) +
// second (or just `first` when two_parts is false).
std::string make_frame(char kind, const std::string& first, const std::string& second,
                       bool two_parts);

// split_parts() splits a two-part payload; false if it is malformed.
bool split_parts(const std::string& payload, std::string* first, std::string* second);

// FrameReader collects frames from a descriptor: the parent's non-blocking
// sockets, or a worker's blocking one (where read() waits for the rest of a
// frame instead of returning need_more). A frame that arrived whole is
// taken in one read() call.
class FrameReader {
 public:
  enum Result { got_frame, need_more, closed, failed };
  // read() reads what is available; got_frame when *frame was filled.
  // `closed` is end of stream (the peer is gone), `failed` an I/O error or a
  // corrupt stream.
  Result read(int fd, Frame* frame);
  // buffered() tells whether bytes past the frames taken were read.
  bool buffered() const { return !buffer_.empty(); }

 private:
  bool take(Frame* frame);
  std::string buffer_;
};

// send_frame() writes all bytes to a non-blocking descriptor, waiting in
// wait_fd() (GIL released) while it is full. Returns timed_out or
// interrupted if the wait ended so (part of the frame may be written: the
// stream is then unusable), else ready; *error is non-empty on an I/O error.
WaitStatus send_frame(ThreadState& ts, int fd, const std::string& bytes, const Deadline& deadline,
                      std::string* error);

// write_blocking() writes all bytes to a blocking descriptor, for the
// worker process (no GIL involved).
bool write_blocking(int fd, const std::string& bytes);

}  // namespace gilrun
