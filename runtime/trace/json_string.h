// json_string.h — the one JSON string writer: every JSON gilrun writes
// (--trace, --timeline, --stats=json, `gilrun bench --json`) quotes its
// strings here. This file is private to the runtime; the command line uses
// it through gilrun_runtime_internal.
#pragma once

#include <ostream>
#include <string>

namespace gilrun {

// write_json_string() writes `text` as a quoted JSON string: escapes quotes,
// backslashes and control characters and replaces invalid UTF-8 with U+FFFD,
// one per bad byte (thread names and script names are user text).
// `script_safe` also escapes < > & and U+2028/U+2029, so the literal can sit
// inside an HTML <script> element.
void write_json_string(std::ostream& out, const std::string& text, bool script_safe = false);

// json_string() is write_json_string() into a std::string.
std::string json_string(const std::string& text);

}  // namespace gilrun
