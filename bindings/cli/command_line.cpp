#include "command_line.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "gilrun/gilrun.h"

namespace gilrun::cli {

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  static const std::pair<const char*, double> kUnits[] = {
      {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}};
  double scale = 1.0;
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
  if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(value) ||
      value <= 0) {
    return std::nullopt;
  }
  const double ns = value * scale * 1e9;
  if (ns < 1 || ns > 3.6e12) return std::nullopt;  // 1 ns .. 1 hour
  return std::chrono::nanoseconds(static_cast<int64_t>(ns));
}

namespace {

const char* kDescription =
    "gilrun: run Lua 5.4 scripts on one shared VM behind a global interpreter lock.\n"
    "usage: gilrun [options] [script [args]]\n"
    "  script  a Lua file, or - for standard input; with no script, an interactive\n"
    "          prompt (or standard input when it is not a terminal)";

std::optional<std::chrono::nanoseconds> env_switch_interval(bool* bad) {
  const char* text = std::getenv("GILRUN_SWITCH_INTERVAL");
  if (text == nullptr || *text == '\0') return std::nullopt;
  auto d = parse_duration(text);
  if (!d) *bad = true;
  return d;
}

}  // namespace

ParseResult parse_command_line(int argc, char** argv) {
  Invocation inv;
  inv.argv.assign(argv, argv + argc);

  // `--stats` alone means `--stats=table`; CLI11 would otherwise take the
  // script name as its value.
  std::vector<std::string> args(inv.argv.begin() + 1, inv.argv.end());
  for (auto& a : args) {
    if (a == "--") break;
    if (!a.empty() && a[0] != '-') break;  // the script: the rest is its own
    if (a == "--stats") a = "--stats=table";
  }

  CLI::App app(kDescription, "gilrun");
  app.prefix_command();  // everything from the script on belongs to the script
  std::string interval_text;
  // One value per occurrence, like lua: `-e 'x=1' script.lua` runs both.
  app.add_option("-e", inv.exec, "execute string 'stat'")
      ->type_name("STAT")
      ->allow_extra_args(false);
  app.add_option("-l", inv.requires, "require library 'mod' into global 'mod'")
      ->type_name("MOD")
      ->allow_extra_args(false);
  app.add_flag("-i", inv.interactive, "enter interactive mode after running the script");
  app.add_flag("-v,--version", inv.version, "show version information");
  app.add_option("--switch-interval", interval_text,
                 "GIL switch interval, e.g. 5ms, 500us (env GILRUN_SWITCH_INTERVAL)")
      ->type_name("DUR");
  app.add_option("--gil", inv.policy,
                 "GIL policy: interval (default), ticks, fifo, priority, isolated (env GILRUN_GIL)")
      ->check(CLI::IsMember({"interval", "ticks", "fifo", "priority", "isolated"}))
      ->type_name("POLICY");
  std::string force_switching = "on";
  app.add_option("--force-switching", force_switching,
                 "interval policy: after a forced drop, wait for the waiter to take the GIL")
      ->check(CLI::IsMember({"on", "off"}))
      ->type_name("on|off");
  app.add_option("--check-interval", inv.check_interval,
                 "ticks policy: VM instructions between GIL checks (default 100)")
      ->check(CLI::Range(1, 1000000000))
      ->type_name("N");
  app.add_option("--trace", inv.trace_file,
                 "write a Chrome trace (open in ui.perfetto.dev) of every GIL state change")
      ->type_name("FILE.json");
  app.add_option("--timeline", inv.timeline_file,
                 "write a self-contained HTML page of GIL bars, one lane per thread")
      ->type_name("FILE.html");
  std::string block_warn_text;
  app.add_option("--green-block-warn", block_warn_text,
                 "report (with a traceback) a green thread that runs this long without "
                 "yielding, e.g. 100ms")
      ->type_name("DUR");
  app.add_option("--stats", inv.stats, "print GIL statistics at exit: table (default) or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->type_name("FORMAT");

  // `gilrun bench ...` (a script literally named "bench" runs as ./bench).
  const CLI::App* bench_command = bench::add_bench_command(app, inv.bench_options);

  if (const char* env = std::getenv("GILRUN_GIL"); env != nullptr && *env != '\0') {
    inv.policy = env;  // the flag, parsed next, wins
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());
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

  // What CLI11 left over: the script and its arguments (after any "--").
  std::vector<std::string> rest = app.remaining();
  if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
  if (!rest.empty()) {
    const std::string& first = rest.front();
    if (first.size() > 1 && first[0] == '-') {
      std::cerr << "gilrun: unrecognized option '" << first << "'\n" << app.help();
      return {std::nullopt, 2};
    }
    inv.script_index = argc - static_cast<int>(rest.size());
  }

  inv.force_switching = force_switching == "on";
  static const char* const kPolicies[] = {"interval", "ticks", "fifo", "priority", "isolated"};
  if (std::find(std::begin(kPolicies), std::end(kPolicies), inv.policy) == std::end(kPolicies)) {
    std::cerr << "gilrun: GILRUN_GIL: unknown policy '" << inv.policy
              << "' (choose interval, ticks, fifo, priority or isolated)\n";
    return {std::nullopt, 2};
  }
  bool bad_env = false;
  inv.switch_interval = env_switch_interval(&bad_env);
  if (bad_env) {
    std::cerr << "gilrun: GILRUN_SWITCH_INTERVAL must be a positive duration like 5ms\n";
    return {std::nullopt, 2};
  }
  if (!interval_text.empty()) {
    inv.switch_interval = parse_duration(interval_text);
    if (!inv.switch_interval) {
      std::cerr << "gilrun: --switch-interval: '" << interval_text
                << "' is not a duration (use ns, us, ms or s, e.g. 5ms)\n"
                << app.help();
      return {std::nullopt, 2};
    }
  }
  if (!block_warn_text.empty()) {
    inv.green_block_warn = parse_duration(block_warn_text);
    if (!inv.green_block_warn) {
      std::cerr << "gilrun: --green-block-warn: '" << block_warn_text
                << "' is not a duration (use ns, us, ms or s, e.g. 100ms)\n";
      return {std::nullopt, 2};
    }
  }
  return {std::move(inv), 0};
}

}  // namespace gilrun::cli
