// text_format.h — printf into a std::string, and JSON string quoting (the
// runtime's one writer): what the --stats report and `gilrun bench` both
// print with.
#pragma once

#include <string>

#include "trace/json_string.h"

namespace gilrun::cli {

// format() is snprintf into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

using gilrun::json_string;

}  // namespace gilrun::cli
