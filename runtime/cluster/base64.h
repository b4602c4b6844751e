// base64.h — RFC 4648 base64, the body_encoding kombu gives every message
// on Redis ("body_encoding": "base64"). This file is private to the runtime.
#pragma once

#include <string>

namespace gilrun::cluster {

std::string base64_encode(const std::string& bytes);
// base64_decode() accepts padded or unpadded text; false on a bad character.
bool base64_decode(const std::string& text, std::string* out);

}  // namespace gilrun::cluster
