// json_string.cpp — see json_string.h.
#include "trace/json_string.h"

#include <cstdint>
#include <sstream>

namespace gilrun {
namespace {

// Decodes one UTF-8 sequence at text[i]; returns its length in bytes, or 0 if
// the bytes there are not valid UTF-8 (overlong, surrogate, truncated, > 10FFFF).
size_t valid_utf8_length(const std::string& text, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length;
  uint32_t cp;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, cp = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static const uint32_t kSmallestForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kSmallestForLength[length] || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  *code_point = cp;
  return length;
}

void write_unicode_escape(std::ostream& out, uint32_t code_unit) {
  static const char kHex[] = "0123456789abcdef";
  const char escaped[6] = {'\\', 'u', kHex[(code_unit >> 12) & 0xF],
                           kHex[(code_unit >> 8) & 0xF], kHex[(code_unit >> 4) & 0xF],
                           kHex[code_unit & 0xF]};
  out.write(escaped, sizeof escaped);
}

// The escape for an ASCII character, or nullptr if it is written as is.
const char* ascii_escape(unsigned char c) {
  switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: return nullptr;
  }
}

bool needs_script_escape(uint32_t cp) {
  return cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029;
}

}  // namespace

void write_json_string(std::ostream& out, const std::string& text, bool script_safe) {
  out.put('"');
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    const size_t length = valid_utf8_length(text, i, &cp);
    if (length == 0) {  // not UTF-8: one replacement character per bad byte
      write_unicode_escape(out, 0xFFFD);
      ++i;
      continue;
    }
    if (const char* escape = cp < 0x80 ? ascii_escape(static_cast<unsigned char>(cp)) : nullptr) {
      out << escape;
    } else if (cp < 0x20 || cp == 0x7F || (script_safe && needs_script_escape(cp))) {
      write_unicode_escape(out, cp);
    } else {
      out.write(text.data() + i, static_cast<std::streamsize>(length));
    }
    i += length;
  }
  out.put('"');
}

std::string json_string(const std::string& text) {
  std::ostringstream out;
  write_json_string(out, text);
  return out.str();
}

}  // namespace gilrun
