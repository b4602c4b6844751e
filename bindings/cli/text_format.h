// text_format.h — printf into a std::string, and JSON string quoting: what
// the --stats report and `gilrun bench` both print with.
#pragma once

#include <string>

namespace gilrun::cli {

// format() is snprintf into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// json_string() quotes `s` as a JSON string (escaping quotes, backslashes and
// control characters).
std::string json_string(const std::string& s);

}  // namespace gilrun::cli
