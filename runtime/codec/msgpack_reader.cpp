// msgpack_reader.cpp — MsgpackReader (msgpack_reader.h), after the format's
// spec (https://github.com/msgpack/msgpack/blob/master/spec.md).
#include "codec/msgpack_reader.h"

#include <cstring>

namespace gilrun {

MsgpackReader::MsgpackReader(const char* data, size_t size)
    : begin_(reinterpret_cast<const unsigned char*>(data)),
      pos_(begin_),
      end_(begin_ + size),
      token_start_(begin_) {}

bool MsgpackReader::fail(const char* why, bool truncated) {
  problem_ = why;
  truncated_ = truncated;
  return false;
}

bool MsgpackReader::big_endian(int bytes, uint64_t* value) {
  if (left() < static_cast<size_t>(bytes)) return fail("truncated input", true);
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | *pos_++;
  *value = v;
  return true;
}

bool MsgpackReader::bytes(uint64_t length, MsgpackToken* t) {
  if (length > left()) return fail("truncated input (a length runs past the end)", true);
  t->data = reinterpret_cast<const char*>(pos_);
  t->length = static_cast<size_t>(length);
  pos_ += length;
  return true;
}

bool MsgpackReader::sized_bytes(MsgpackToken::Kind kind, int length_bytes, MsgpackToken* t) {
  uint64_t length = 0;
  t->kind = kind;
  return big_endian(length_bytes, &length) && bytes(length, t);
}

// container() takes a map's or array's entry count; a count the input left
// cannot hold fails here, before anyone sizes anything by it.
bool MsgpackReader::container(MsgpackToken::Kind kind, uint64_t entries, MsgpackToken* t) {
  const uint64_t min_bytes = kind == MsgpackToken::kMap ? 2 * entries : entries;
  if (min_bytes > left()) return fail("truncated input (more entries than bytes left)", true);
  t->kind = kind;
  t->length = static_cast<size_t>(entries);
  return true;
}

bool MsgpackReader::sized_container(MsgpackToken::Kind kind, int length_bytes, MsgpackToken* t) {
  uint64_t entries = 0;
  return big_endian(length_bytes, &entries) && container(kind, entries, t);
}

bool MsgpackReader::ext(uint64_t length, MsgpackToken* t) {
  uint64_t type = 0;
  if (!big_endian(1, &type)) return false;
  t->kind = MsgpackToken::kExt;
  t->ext_type = static_cast<int8_t>(type);
  return bytes(length, t);
}

bool MsgpackReader::sized_ext(int length_bytes, MsgpackToken* t) {
  uint64_t length = 0;
  return big_endian(length_bytes, &length) && ext(length, t);
}

bool MsgpackReader::unsigned_int(int bytes, MsgpackToken* t) {
  uint64_t v = 0;
  if (!big_endian(bytes, &v)) return false;
  if (v > static_cast<uint64_t>(INT64_MAX)) {
    t->kind = MsgpackToken::kBigUnsigned;
    t->big_unsigned = v;
  } else {
    t->kind = MsgpackToken::kInteger;
    t->integer = static_cast<int64_t>(v);
  }
  return true;
}

bool MsgpackReader::signed_int(int bytes, MsgpackToken* t) {
  uint64_t v = 0;
  if (!big_endian(bytes, &v)) return false;
  const int shift = 64 - 8 * bytes;  // sign-extend from `bytes` bytes
  t->kind = MsgpackToken::kInteger;
  t->integer = static_cast<int64_t>(v << shift) >> shift;
  return true;
}

bool MsgpackReader::floating(int bytes, MsgpackToken* t) {
  uint64_t v = 0;
  if (!big_endian(bytes, &v)) return false;
  t->kind = MsgpackToken::kFloat;
  if (bytes == 4) {
    const uint32_t bits = static_cast<uint32_t>(v);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    t->number = f;
  } else {
    std::memcpy(&t->number, &v, sizeof t->number);
  }
  return true;
}

bool MsgpackReader::next(MsgpackToken* t) {
  using K = MsgpackToken;
  token_start_ = pos_;
  if (pos_ == end_) return fail("truncated input", true);
  const unsigned char b = *pos_++;
  if (b <= 0x7f) {  // positive fixint
    t->kind = K::kInteger;
    t->integer = b;
    return true;
  }
  if (b >= 0xe0) {  // negative fixint
    t->kind = K::kInteger;
    t->integer = static_cast<int8_t>(b);
    return true;
  }
  if (b <= 0x8f) return container(K::kMap, b & 0x0f, t);
  if (b <= 0x9f) return container(K::kArray, b & 0x0f, t);
  if (b <= 0xbf) {  // fixstr
    t->kind = K::kString;
    return bytes(b & 0x1f, t);
  }
  switch (b) {
    case 0xc0: t->kind = K::kNil; return true;
    case 0xc2: t->kind = K::kBoolean; t->boolean = false; return true;
    case 0xc3: t->kind = K::kBoolean; t->boolean = true; return true;
    case 0xc4: return sized_bytes(K::kBinary, 1, t);  // bin 8/16/32
    case 0xc5: return sized_bytes(K::kBinary, 2, t);
    case 0xc6: return sized_bytes(K::kBinary, 4, t);
    case 0xc7: return sized_ext(1, t);  // ext 8/16/32
    case 0xc8: return sized_ext(2, t);
    case 0xc9: return sized_ext(4, t);
    case 0xca: return floating(4, t);
    case 0xcb: return floating(8, t);
    case 0xcc: return unsigned_int(1, t);
    case 0xcd: return unsigned_int(2, t);
    case 0xce: return unsigned_int(4, t);
    case 0xcf: return unsigned_int(8, t);
    case 0xd0: return signed_int(1, t);
    case 0xd1: return signed_int(2, t);
    case 0xd2: return signed_int(4, t);
    case 0xd3: return signed_int(8, t);
    case 0xd4: return ext(1, t);  // fixext 1/2/4/8/16
    case 0xd5: return ext(2, t);
    case 0xd6: return ext(4, t);
    case 0xd7: return ext(8, t);
    case 0xd8: return ext(16, t);
    case 0xd9: return sized_bytes(K::kString, 1, t);  // str 8/16/32
    case 0xda: return sized_bytes(K::kString, 2, t);
    case 0xdb: return sized_bytes(K::kString, 4, t);
    case 0xdc: return sized_container(K::kArray, 2, t);
    case 0xdd: return sized_container(K::kArray, 4, t);
    case 0xde: return sized_container(K::kMap, 2, t);
    case 0xdf: return sized_container(K::kMap, 4, t);
    default: return fail("invalid byte 0xc1", false);  // the one byte msgpack never uses
  }
}

}  // namespace gilrun
