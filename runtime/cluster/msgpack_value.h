// msgpack_value.h — MessagePack bodies from Celery (its "msgpack"
// serializer, content type application/x-msgpack) as Lua values. This file
// is private to the runtime.
//
// Generic MessagePack, as Python's msgpack package writes it — not the
// value codec's dialect (codec/value_codec.h), which adds functions and
// shared tables for gilrun peers. The mapping is json.h's: nil, booleans,
// integers, floats (float32 and float64), str and bin as strings, arrays as
// sequences (nil for nil), maps as tables (keys that are strings or
// integers; a uint 64 above 2^63-1 becomes a float, as a too-large JSON
// integer does). An ext value, a key of another kind, nesting deeper than 200
// levels, truncated or malformed input, or bytes after the value is an error.
// The bytes are read by the codec's reader (codec/msgpack_reader.h), which
// checks every declared length against the input left.
#pragma once

#include <cstddef>
#include <string>

struct lua_State;

namespace gilrun::cluster {

// msgpack_decode() pushes the one value encoded in data[0, size); on error
// pushes nothing.
bool msgpack_decode(lua_State* L, const char* data, size_t size, std::string* error);

}  // namespace gilrun::cluster
