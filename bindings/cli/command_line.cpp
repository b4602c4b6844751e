// command_line.cpp — the Invocation from argv: lua_args.cpp finds Lua's options
// and the script; CLI11 parses and checks gilrun's --flags and `gilrun bench`.
#include "command_line.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "gilrun/gilrun.h"
#include "gilrun/modules.h"

namespace gilrun::cli {

const std::vector<std::string> kPolicies = {"interval", "ticks", "fifo", "priority", "isolated"};

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text,
                                                       std::string* why) {
  static const std::pair<const char*, double> kUnits[] = {
      {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}};
  std::string reason;
  if (!why) why = &reason;
  double scale = 0;
  std::string number = text;
  for (const auto& [suffix, factor] : kUnits) {
    const std::string s = suffix;
    if (text.size() > s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) {
      scale = factor;
      number = text.substr(0, text.size() - s.size());
      break;
    }
  }
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  const bool is_number = !number.empty() && end == number.c_str() + number.size() &&
                         !std::isspace(static_cast<unsigned char>(number[0]));
  if (!is_number || std::isnan(value)) {
    *why = "is not a duration (use ns, us, ms or s, e.g. 5ms)";
    return std::nullopt;
  }
  if (scale == 0) {  // "5": seconds or milliseconds? Say which.
    *why = "has no unit (use ns, us, ms or s, e.g. 5ms)";
    return std::nullopt;
  }
  if (value <= 0) {
    *why = "must be positive";
    return std::nullopt;
  }
  const double ns = value * scale * 1e9;  // inf stays inf: rejected next
  if (!(ns <= kMaxDuration.count())) {
    *why = "is longer than 1 hour, the longest duration gilrun takes";
    return std::nullopt;
  }
  if (ns < 1) {
    *why = "is shorter than 1 ns";
    return std::nullopt;
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(ns));
}

namespace {

const char* kDescription =
    "gilrun: run Lua 5.4 scripts on one shared VM behind a global interpreter lock.\n"
    "usage: gilrun [options] [script [args]]\n"
    "  script    a Lua file, or - for standard input; with no script, an interactive\n"
    "            prompt (or standard input when it is not a terminal)\n"
    "Lua's options, as in lua5.4 (run in the order given):\n"
    "  -e stat   execute string 'stat'\n"
    "  -i        enter interactive mode after executing 'script'\n"
    "  -l mod    require library 'mod' into global 'mod'\n"
    "  -l g=mod  require library 'mod' into global 'g'\n"
    "  -v        show version information\n"
    "  -E        ignore environment variables (LUA_INIT, LUA_PATH, LUA_CPATH)\n"
    "  -W        turn warnings on\n"
    "  --        stop handling options\n"
    "  -         stop handling options and execute stdin\n"
    "gilrun's options:";

// The green-thread block monitor looks every millisecond at most: a shorter
// limit would be reported as a limit it does not keep.
constexpr std::chrono::milliseconds kMinBlockWarn{1};

// Text fields CLI11 fills in, checked after parsing.
struct RawFlags {
  std::string interval;
  std::string force_switching = Options().force_switching ? "on" : "off";
  std::string block_warn;
  std::string green_stack;
};

// parse_size() reads "256K", "1M", "262144" (bytes), K/KiB and M/MiB being
// 1024 and 1024^2. 0 if it is not a size.
std::size_t parse_size(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12) return 0;
  const std::size_t n = std::stoull(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit.empty()) return n;
  if (unit == "K" || unit == "k" || unit == "KiB") return n * 1024;
  if (unit == "M" || unit == "m" || unit == "MiB") return n * 1024 * 1024;
  return 0;
}

// policy_list() is kPolicies for a message: "interval, ticks ... or
// isolated", `last` before the last one, the default marked if `mark`.
std::string policy_list(const char* last, bool mark) {
  std::string text;
  for (std::size_t i = 0; i < kPolicies.size(); ++i) {
    if (i > 0) text += i + 1 == kPolicies.size() ? last : ", ";
    text += kPolicies[i];
    if (mark && kPolicies[i] == Options().policy) text += " (default)";
  }
  return text;
}

void add_flags(CLI::App& app, Invocation& inv, RawFlags& raw) {
  app.add_flag("--version", inv.version, "show version information (as -v)");
  app.add_option("--switch-interval", raw.interval,
                 "GIL switch interval, e.g. 5ms, 500us (env GILRUN_SWITCH_INTERVAL)")
      ->type_name("DUR");
  app.add_option("--gil", inv.policy,
                 "GIL policy: " + policy_list(", ", true) + " (env GILRUN_GIL)")
      ->check(CLI::IsMember(kPolicies))
      ->type_name("POLICY");
  app.add_option("--force-switching", raw.force_switching,
                 "interval policy: after a forced drop, wait for the waiter to take the GIL")
      ->check(CLI::IsMember({"on", "off"}))
      ->type_name("on|off");
  app.add_option("--check-interval", inv.check_interval,
                 "ticks policy: VM instructions between GIL checks (default " +
                     std::to_string(Options().check_interval) + ")")
      ->check(CLI::Range(1, 1000000000))
      ->type_name("N");
  app.add_option("--trace", inv.trace_file,
                 "write a Chrome trace (open in ui.perfetto.dev) of every GIL state change")
      ->type_name("FILE.json");
  app.add_option("--timeline", inv.timeline_file,
                 "write a self-contained HTML page of GIL bars, one lane per thread")
      ->type_name("FILE.html");
  app.add_option("--gil-profile", inv.gil_profile_file,
                 "write GIL waiting by stack as collapsed stacks (flame graphs, speedscope): "
                 "who held it while others waited, and where they waited")
      ->type_name("FILE");
  app.add_option("--green-block-warn", raw.block_warn,
                 "report (with a traceback) a green thread that runs this long without "
                 "yielding, e.g. 100ms")
      ->type_name("DUR");
  app.add_option("--green-stack-size", raw.green_stack,
                 "each green thread's stack, 64K..256M (default 256K; fewer nested C calls "
                 "fit a smaller one)")
      ->type_name("SIZE");
  app.add_option("--stats", inv.stats, "print GIL statistics at exit: table (default) or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->type_name("FORMAT");
}

// describe_flag() tells the scan what a --flag is, from CLI11's definition.
LongOption describe_flag(const CLI::App& app, const std::string& name) {
  if (name == "stats") return LongOption::flag;  // bare `--stats` is `--stats=table`
  const CLI::Option* option = app.get_option_no_throw("--" + name);
  if (option == nullptr) return LongOption::unknown;
  return option->get_expected_max() == 0 ? LongOption::flag : LongOption::with_value;
}

// check_values() checks what CLI11 cannot: the environment and durations.
int check_values(Invocation& inv, const RawFlags& raw, const CLI::App& app) {
  inv.force_switching = raw.force_switching == "on";
  if (std::find(kPolicies.begin(), kPolicies.end(), inv.policy) == kPolicies.end()) {
    std::cerr << "gilrun: GILRUN_GIL: unknown policy '" << inv.policy << "' (choose "
              << policy_list(" or ", false) << ")\n";
    return 2;
  }
  std::string why;
  if (const char* env = std::getenv("GILRUN_SWITCH_INTERVAL"); env != nullptr && *env != '\0') {
    inv.switch_interval = parse_duration(env, &why);
    if (!inv.switch_interval) {
      std::cerr << "gilrun: GILRUN_SWITCH_INTERVAL: '" << env << "' " << why << "\n";
      return 2;
    }
  }
  if (!raw.interval.empty()) {
    inv.switch_interval = parse_duration(raw.interval, &why);
    if (!inv.switch_interval) {
      std::cerr << "gilrun: --switch-interval: '" << raw.interval << "' " << why << "\n"
                << app.help();
      return 2;
    }
  }
  if (!raw.block_warn.empty()) {
    inv.green_block_warn = parse_duration(raw.block_warn, &why);
    if (inv.green_block_warn && *inv.green_block_warn < kMinBlockWarn) {
      why = "is shorter than 1ms, the monitor's resolution";
      inv.green_block_warn.reset();
    }
    if (!inv.green_block_warn) {
      std::cerr << "gilrun: --green-block-warn: '" << raw.block_warn << "' " << why
                << " (e.g. 100ms)\n";
      return 2;
    }
  }
  if (!raw.green_stack.empty()) {
    inv.green_stack_size = parse_size(raw.green_stack);
    if (inv.green_stack_size < 64 * 1024 || inv.green_stack_size > 256 * 1024 * 1024) {
      std::cerr << "gilrun: --green-stack-size: '" << raw.green_stack
                << "' is not a size from 64K to 256M (e.g. 256K, 1M)\n";
      return 2;
    }
  }
  return 0;
}

}  // namespace

ParseResult parse_command_line(int argc, char** argv) {
  Invocation inv;
  inv.argv.assign(argv, argv + argc);

  CLI::App app(kDescription, "gilrun");
  app.set_help_flag("--help", "print this help and exit");  // -h is not lua's
  RawFlags raw;
  add_flags(app, inv, raw);
  // `gilrun bench ...` (a script literally named "bench" runs as ./bench).
  const CLI::App* bench_command = bench::add_bench_command(app, inv.bench_flags);

  const LuaArgs lua = scan_lua_args(
      inv.argv, [&app](const std::string& name) { return describe_flag(app, name); });
  if (!lua.bad_option.empty()) {  // lua.c's wording, then the usage
    std::cerr << inv.progname() << ": "
              << (lua.needs_argument ? "'" + lua.bad_option + "' needs argument"
                                     : "unrecognized option '" + lua.bad_option + "'")
              << "\n" << app.help();
    return {std::nullopt, 2};
  }
  inv.script_index = lua.script;
  inv.steps = lua.steps;
  inv.interactive = lua.interactive;
  inv.version = lua.version;
  inv.exec = lua.exec;
  inv.ignore_env = lua.ignore_env;

  std::vector<std::string> flags = lua.long_options;
  for (auto& flag : flags) {
    if (flag == "--stats") flag = "--stats=table";
  }
  const bool bench = lua.script >= 0 && inv.argv[lua.script] == "bench" &&
                     inv.argv[lua.script - 1] != "--";
  if (bench) flags.insert(flags.end(), inv.argv.begin() + lua.script, inv.argv.end());

  if (const char* env = std::getenv("GILRUN_GIL"); env != nullptr && *env != '\0') {
    inv.policy = env;  // the flag, parsed next, wins
  }
  std::vector<std::string> reversed(flags.rbegin(), flags.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      std::cout << app.help();
      return {std::nullopt, 0};
    }
    std::cerr << "gilrun: " << e.what() << "\n" << app.help();
    return {std::nullopt, 2};
  }
  if (bench_command->parsed()) {
    inv.bench = true;
    return {std::move(inv), 0};
  }
  if (const int status = check_values(inv, raw, app)) return {std::nullopt, status};
  return {std::move(inv), 0};
}

gilrun::Options to_options(const Invocation& inv) {
  gilrun::Options options;
  options.handle_sigint = true;
  options.handle_sigterm = true;
  options.policy = inv.policy;
  if (inv.switch_interval) options.switch_interval = *inv.switch_interval;
  if (inv.green_block_warn) options.green_block_warn = *inv.green_block_warn;
  options.on_green_block = [](const gilrun::GreenBlockReport& r) {  // worded after the flag
    std::fprintf(stderr,
                 "gilrun: green thread #%llu has run for %.0f ms without yielding "
                 "(--green-block-warn=%.0fms); it blocks every other green thread of its OS "
                 "thread:\n%s\n",
                 static_cast<unsigned long long>(r.green_id),
                 std::chrono::duration<double, std::milli>(r.ran).count(),
                 std::chrono::duration<double, std::milli>(r.limit).count(), r.traceback.c_str());
    std::fflush(stderr);
  };
  if (inv.green_stack_size) options.green_stack_size = inv.green_stack_size;
  options.force_switching = inv.force_switching;
  options.check_interval = inv.check_interval;
  options.ignore_env = inv.ignore_env;
  options.record_trace = !inv.trace_file.empty() || !inv.timeline_file.empty();
  options.libraries = [](lua_State* L) { gilrun::preload_modules(L); };
  return options;
}

}  // namespace gilrun::cli
