// site.cpp — reading a thread's position from its lua_State (lua_getstack,
// lua_getinfo: the official debug API only).
#include "blame/site.h"

#include <lua.hpp>

#include <cstdio>

namespace gilrun {
namespace {

constexpr int kMaxFrames = 64;  // innermost frames kept in a stack
// How far down to look for a Lua line: lua_getstack(L, n) walks n frames, so
// searching all of a deep stack without one (stripped code, C recursion)
// would cost the square of its depth at every contended switch.
constexpr int kMaxSearch = 256;

// The writers below append to one string: a capture runs at every contended
// switch, and building each frame from temporaries cost hundreds of small
// allocations per capture on a deep stack (a millisecond under TSan, whose
// allocator records a stack trace for each).

void append_int(std::string* out, int n) {
  char digits[16];
  const int len = std::snprintf(digits, sizeof digits, "%d", n);
  out->append(digits, static_cast<size_t>(len));
}

void append_function_name(std::string* out, const lua_Debug& ar) {
  if (ar.name != nullptr && *ar.name != '\0') {
    out->append(ar.name);
  } else if (*ar.what == 'm') {
    out->append("main chunk");
  } else if (*ar.what == 'C') {
    out->append("?");
  } else {
    out->append("function <").append(ar.short_src).append(":");
    append_int(out, ar.linedefined);
    out->append(">");
  }
}

void append_line(std::string* out, const lua_Debug& ar) {
  out->append(ar.short_src).append(":");
  append_int(out, ar.currentline);
}

// append_frame() writes a frame as one collapsed-stack line's part: no ';'
// (the frame separator) and no line breaks in what it wrote.
void append_frame(std::string* out, const lua_Debug& ar) {
  const size_t start = out->size();
  append_function_name(out, ar);
  if (*ar.what == 'C') {
    out->append(" [C]");
  } else {
    out->append(" (");
    append_line(out, ar);
    out->append(")");
  }
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == ';') c = ',';
    if (c == '\n' || c == '\r') c = ' ';
  }
}

bool frame_at(lua_State* L, int level, lua_Debug* ar) {
  return lua_getstack(L, level, ar) != 0 && lua_getinfo(L, "Sln", ar) != 0;
}

}  // namespace

// Two walks: inward-out to find the innermost Lua line (and how many frames
// the stack keeps), then outermost-first to write the stack, as collapsed
// stacks read. lua_getinfo allocates nothing, so reading a frame twice is
// cheaper than keeping 64 lua_Debug records.
Site capture_site(lua_State* L) {
  Site site;
  std::string c_function;  // the C function(s) above the innermost Lua frame
  int kept = 0;            // frames 0..kept-1 go into the stack
  lua_Debug ar;
  for (int level = 0; L != nullptr && frame_at(L, level, &ar); ++level) {
    if (level < kMaxFrames) kept = level + 1;
    if (site.where.empty()) {
      if (*ar.what == 'C') {
        if (c_function.empty()) append_function_name(&c_function, ar);
      } else if (ar.currentline > 0) {
        append_line(&site.where, ar);
        site.function = c_function;
        if (!c_function.empty()) site.function.append(" [C] in ");
        append_function_name(&site.function, ar);
      }
    }
    if (level + 1 >= kMaxFrames && (!site.where.empty() || level + 1 >= kMaxSearch)) break;
  }
  if (site.where.empty()) {
    site.where = "(not in Lua)";
    site.function = c_function.empty() ? "" : c_function + " [C]";
  }
  site.stack.reserve(static_cast<size_t>(kept) * 48);
  for (int level = kept - 1; level >= 0; --level) {
    if (!frame_at(L, level, &ar)) break;
    if (!site.stack.empty()) site.stack += ';';
    append_frame(&site.stack, ar);
  }
  return site;
}

}  // namespace gilrun
