// lua_args.cpp — lua.c's scan of the command line, plus gilrun's --flags.
#include "lua_args.h"

namespace gilrun::cli {

namespace {

// scan_long() takes "--name[=value]" (and its separate value, if it takes
// one) at argv[i]; returns the index of the last word used.
size_t scan_long(const std::vector<std::string>& argv, size_t i, LuaArgs& out,
                 const std::function<LongOption(const std::string&)>& describe) {
  const std::string& word = argv[i];
  const size_t eq = word.find('=');
  const std::string name = word.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  const LongOption kind = describe(name);
  if (kind == LongOption::unknown) {
    out.bad_option = word;
    return i;
  }
  if (kind == LongOption::with_value) {
    // "--trace=" has no value; "--trace -e ..." neither: never take the
    // next option (or the script's -e) as the value, as lua.c's -e does not.
    const bool empty = eq != std::string::npos ? eq + 1 == word.size()
                                               : i + 1 >= argv.size() || argv[i + 1].empty() ||
                                                     argv[i + 1][0] == '-';
    if (empty) {
      out.bad_option = word;
      out.needs_argument = true;
      return i;
    }
  }
  out.long_options.push_back(word);
  if (kind == LongOption::with_value && eq == std::string::npos) out.long_options.push_back(argv[++i]);
  return i;
}

// Lua's single-letter options that take no argument and must stand alone.
bool scan_switch(const std::string& word, LuaArgs& out) {
  if (word.size() != 2) return false;
  switch (word[1]) {
    case 'E': out.ignore_env = true; return true;
    case 'W': out.steps.push_back({LuaStep::warnings_on, ""}); return true;
    case 'i': out.interactive = out.version = true; return true;
    case 'v': out.version = true; return true;
    default: return false;
  }
}

}  // namespace

LuaArgs scan_lua_args(const std::vector<std::string>& argv,
                      const std::function<LongOption(const std::string& name)>& describe) {
  LuaArgs out;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word.empty() || word[0] != '-' || word == "-") {  // the script ("-": stdin)
      out.script = static_cast<int>(i);
      return out;
    }
    if (word == "--") {  // options end; the next word, if any, is the script
      if (i + 1 < argv.size()) out.script = static_cast<int>(i + 1);
      return out;
    }
    if (word[1] == '-') {
      i = scan_long(argv, i, out, describe);
    } else if (word[1] == 'e' || word[1] == 'l') {
      std::string text = word.substr(2);  // "-eCODE" or "-e CODE"
      if (text.empty()) {
        if (i + 1 >= argv.size() || argv[i + 1].rfind('-', 0) == 0) {
          out.bad_option = word;
          out.needs_argument = true;
          return out;
        }
        text = argv[++i];
      }
      if (word[1] == 'e') out.exec = true;
      out.steps.push_back({word[1] == 'e' ? LuaStep::exec : LuaStep::require, text});
    } else if (!scan_switch(word, out)) {
      out.bad_option = word;
    }
    if (!out.bad_option.empty()) return out;
  }
  return out;
}

}  // namespace gilrun::cli
