// msgpack_reader.h — reads MessagePack one token at a time from bytes that
// may be hostile. This file is private to the runtime.
//
// The one MessagePack reader: the value codec's decoder (codec/decode.cpp)
// and the cluster's Celery bodies (cluster/msgpack_value.cpp) both read
// through it, and the fuzzer (tests/fuzz/) targets it. It needs no Lua state,
// allocates nothing and never throws: a token points into the input.
//
// Why not msgpack-c's msgpack_unpack_next(): it allocates an array's or map's
// declared size before reading it (5 input bytes can ask for 100 GB) and
// stops at 32 nesting levels (MSGPACK_EMBED_STACK_SIZE). Here a token is one
// header: a scalar with its value, a str/bin/ext pointing at its bytes, or a
// map/array header with its entry count — its entries are the tokens that
// follow, so nesting (and its limit) is the caller's. Every declared length
// is checked against the input left: a string or ext longer than the rest, or
// a container with more entries than bytes left (an entry takes at least one
// byte, a map's two), fails here, so a caller may size a table by a count.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gilrun {

struct MsgpackToken {
  enum Kind {
    kNil,
    kBoolean,
    kInteger,      // any int format whose value fits an int64
    kBigUnsigned,  // a uint 64 above INT64_MAX (Lua has no such integer)
    kFloat,        // float 32 or float 64
    kString,       // str
    kBinary,       // bin
    kMap,          // `length` key/value pairs follow
    kArray,        // `length` values follow
    kExt,
  };
  Kind kind = kNil;
  bool boolean = false;
  int64_t integer = 0;
  uint64_t big_unsigned = 0;
  double number = 0;
  const char* data = nullptr;  // kString, kBinary, kExt: the bytes, inside the input
  size_t length = 0;           // their count, or a kMap's / kArray's entries
  int8_t ext_type = 0;
};

class MsgpackReader {
 public:
  MsgpackReader(const char* data, size_t size);

  // next() reads one token into *t. It returns false when the input is
  // malformed or ends inside the token; problem() then says why.
  bool next(MsgpackToken* t);

  bool at_end() const { return pos_ == end_; }
  // offset() is where the next token starts (bytes read so far).
  size_t offset() const { return static_cast<size_t>(pos_ - begin_); }
  // token_offset() is where the last token read, or failed, starts (0 at first).
  size_t token_offset() const { return static_cast<size_t>(token_start_ - begin_); }
  const char* problem() const { return problem_; }
  // truncated() says the problem is input that ends too soon (not a bad byte).
  bool truncated() const { return truncated_; }

 private:
  bool fail(const char* why, bool truncated);
  size_t left() const { return static_cast<size_t>(end_ - pos_); }
  bool big_endian(int bytes, uint64_t* value);
  bool bytes(uint64_t length, MsgpackToken* t);
  bool sized_bytes(MsgpackToken::Kind kind, int length_bytes, MsgpackToken* t);
  bool container(MsgpackToken::Kind kind, uint64_t entries, MsgpackToken* t);
  bool sized_container(MsgpackToken::Kind kind, int length_bytes, MsgpackToken* t);
  bool ext(uint64_t length, MsgpackToken* t);
  bool sized_ext(int length_bytes, MsgpackToken* t);
  bool unsigned_int(int bytes, MsgpackToken* t);
  bool signed_int(int bytes, MsgpackToken* t);
  bool floating(int bytes, MsgpackToken* t);

  const unsigned char* const begin_;
  const unsigned char* pos_;
  const unsigned char* const end_;
  const unsigned char* token_start_;
  const char* problem_ = nullptr;
  bool truncated_ = false;
};

}  // namespace gilrun
