// json.h — JSON text to and from Lua values, for Celery's message bodies and
// result metadata. This file is private to the runtime.
//
// The mapping (what a Python Celery peer sees):
//   nil <-> null, booleans, integers <-> JSON integers, floats <-> JSON
//   numbers with a fraction or exponent (so 2.0 stays a float), strings
//   (UTF-8 text) <-> strings, a table with positive integer keys <-> array
//   (a hole is null; table.pack's n is the length), a table with string
//   keys <-> object. An empty table is an array ([]), unless its metatable
//   has __json = "object" (cluster.object()), which makes it {}.
// A NULL light userdata (cluster.core.null) encodes as null, for a null
// inside an array ({null, null} would be an empty table).
// Decoding (RapidJSON's reader): an array's nulls become holes (nil);
// integers beyond 64 bits become floats; text that is not UTF-8, and
// nesting deeper than 200, are errors.
// What cannot map — functions, userdata, NaN and infinities, bytes that are
// not UTF-8, a table mixing sequence and string keys or with other keys, a
// cycle — is an error naming the path of the bad value, like the value
// codec's: "cannot send args[2].conn as JSON: userdata".
//
// Neither function raises a Lua error (apart from running out of memory,
// which raises as any lua_push does) or throws.
#pragma once

#include <cstddef>
#include <string>

struct lua_State;

namespace gilrun::cluster {

// json_encode() appends the JSON text of the value at `index` to *out.
bool json_encode(lua_State* L, int index, const char* root, std::string* out, std::string* error);

// json_decode() pushes the value of the JSON text data[0, size) (one value,
// whitespace around it allowed); on error pushes nothing.
bool json_decode(lua_State* L, const char* data, size_t size, std::string* error);

}  // namespace gilrun::cluster
