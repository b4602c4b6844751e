// site.cpp — reading a thread's position from its lua_State (lua_getstack,
// lua_getinfo: the official debug API only).
#include "blame/site.h"

#include <lua.hpp>

#include <vector>

namespace gilrun {
namespace {

constexpr int kMaxFrames = 64;  // innermost frames kept in a stack

std::string function_name(const lua_Debug& ar) {
  if (ar.name != nullptr && *ar.name != '\0') return ar.name;
  if (*ar.what == 'm') return "main chunk";
  if (*ar.what == 'C') return "?";
  return std::string("function <") + ar.short_src + ":" + std::to_string(ar.linedefined) + ">";
}

std::string line_of(const lua_Debug& ar) {
  return std::string(ar.short_src) + ":" + std::to_string(ar.currentline);
}

// frame_text() keeps a frame on one collapsed-stack line: no ';' (the frame
// separator) and no line breaks.
std::string frame_text(std::string text) {
  for (char& c : text) {
    if (c == ';') c = ',';
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace

Site capture_site(lua_State* L) {
  Site site;
  std::vector<std::string> frames;  // innermost first
  std::string c_function;           // the C function(s) above the innermost Lua frame
  lua_Debug ar;
  for (int level = 0; L != nullptr && lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sln", &ar) == 0) break;
    const bool is_c = *ar.what == 'C';
    const std::string name = function_name(ar);
    if (level < kMaxFrames) {
      frames.push_back(frame_text(is_c ? name + " [C]" : name + " (" + line_of(ar) + ")"));
    }
    if (site.where.empty()) {
      if (is_c) {
        if (c_function.empty()) c_function = name;
      } else if (ar.currentline > 0) {
        site.where = line_of(ar);
        site.function = c_function.empty() ? name : c_function + " [C] in " + name;
      }
    }
    if (level >= kMaxFrames && !site.where.empty()) break;
  }
  if (site.where.empty()) {
    site.where = "(not in Lua)";
    site.function = c_function.empty() ? "" : c_function + " [C]";
  }
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    if (!site.stack.empty()) site.stack += ';';
    site.stack += *it;
  }
  return site;
}

}  // namespace gilrun
