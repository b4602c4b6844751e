// lua_args.h — the first look at argv, the one lua.c's collectargs takes:
// which words are Lua's options (-e, -l, -i, -v, -E, -W, --, -), which are
// gilrun's own (--name[=value], parsed afterwards by CLI11), and where the
// script starts. Everything from the script on belongs to the script.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace gilrun::cli {

// LuaStep is one -e, -l or -W, run in command-line order.
struct LuaStep {
  enum Kind { exec, require, warnings_on };
  Kind kind;
  std::string text;  // the chunk (-e) or "mod" / "g=mod" (-l)
};

// LongOption says what a gilrun flag (the name after "--") is.
enum class LongOption { unknown, flag, with_value };

struct LuaArgs {
  int script = -1;            // argv index of the script; -1: none
  std::vector<LuaStep> steps;
  bool interactive = false;   // -i (implies -v, as in lua.c)
  bool version = false;       // -v
  bool exec = false;          // some -e was given
  bool ignore_env = false;    // -E
  std::vector<std::string> long_options;  // gilrun's flags, with their values
  // A word lua5.4 would reject ("-x", "-vv", "-e" with no argument, an
  // unknown "--flag"): empty if none. needs_argument: it is -e or -l.
  std::string bad_option;
  bool needs_argument = false;
};

// scan_lua_args() scans argv (argv[0] is the program) as lua.c does;
// `describe` says whether a gilrun flag exists and takes a value.
LuaArgs scan_lua_args(const std::vector<std::string>& argv,
                      const std::function<LongOption(const std::string& name)>& describe);

}  // namespace gilrun::cli
