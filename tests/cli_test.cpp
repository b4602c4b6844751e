// cli_test.cpp — runs the built `gilrun` binary on the scripts in tests/data
// and checks what a user sees: stdout, stderr and the exit status.
//
// Every child runs with its working directory in tests/data (so error
// messages name short paths like "error.lua:4:"), with any inherited
// GILRUN_* variables removed, SIGINT at its default disposition and no
// signals blocked. Tests synchronise with the child through its output (a
// "ready" line on stdout, a traceback on stderr), never with sleeps; every
// wait has a limit after which the child is killed and the test fails.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child_run.h"
#include "sanitizers.h"

namespace {

using gilrun_test::Child;
using gilrun_test::ChildResult;
using gilrun_test::ChildSpec;
using gilrun_test::run_child;
using gilrun_test::Stream;

// ---------------------------------------------------------------------------
// The helper (child_run.h): gilrun in tests/data, pipes on stdin, stdout and
// stderr, everything it printed and how it ended.

using RunOutput = ChildResult;

std::string describe(const RunOutput& r) { return r.describe(); }

// gilrun_spec() is `gilrun args...` in tests/data; `env` entries
// ("NAME=value") are added to (or replace) the inherited environment. If
// `address_space` is not 0 the child runs under that RLIMIT_AS. With
// `keep_stdin`, stdin stays open after stdin_text for send() and close_stdin().
ChildSpec gilrun_spec(std::vector<std::string> args, std::string stdin_text = "",
                      std::vector<std::string> env = {}, rlim_t address_space = 0,
                      bool keep_stdin = false) {
  ChildSpec spec;
  spec.args = std::move(args);
  spec.cwd = GILRUN_TEST_DATA;
  spec.stdin_text = std::move(stdin_text);
  spec.env = std::move(env);
  spec.address_space = address_space;
  spec.keep_stdin = keep_stdin;
  return spec;
}

// run_gilrun() runs `gilrun args...` to completion (in tests/data).
RunOutput run_gilrun(std::vector<std::string> args, std::string stdin_text = "",
                     std::vector<std::string> env = {}) {
  return run_child(gilrun_spec(std::move(args), std::move(stdin_text), std::move(env)));
}

testing::AssertionResult contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "expected to find \"" << needle << "\" in:\n"
                                     << haystack;
}

testing::AssertionResult lacks(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) == std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "did not expect \"" << needle << "\" in:\n" << haystack;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The line of `text` that contains `needle` ("" if none).
std::string line_with(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return "";
  const auto begin = text.rfind('\n', at);
  const auto end = text.find('\n', at);
  return text.substr(begin == std::string::npos ? 0 : begin + 1,
                     end == std::string::npos ? std::string::npos
                                              : end - (begin == std::string::npos ? 0 : begin + 1));
}

// ---------------------------------------------------------------------------
// Arguments, -e, -l, stdin, version, help, usage errors.

TEST(CliTest, ScriptGetsArgTableAndVarargs) {
  const RunOutput r = run_gilrun({"args.lua", "a", "b c", ""});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out,
            "arg0=args.lua\n"
            "argc=3\n"
            "arg1=a\n"
            "arg2=b c\n"
            "arg3=\n"
            "dots=a,b c,\n");
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, ArgumentsAfterScriptBelongToTheScript) {
  // Flags after the script name are the script's, not gilrun's.
  const RunOutput r = run_gilrun({"args.lua", "-e", "--stats", "-v"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "arg1=-e\narg2=--stats\narg3=-v\n"));
  EXPECT_TRUE(lacks(r.out, "gilrun 0.1.0"));
  EXPECT_TRUE(lacks(r.err, "GIL statistics"));
}

TEST(CliTest, DoubleDashEndsOptions) {
  const RunOutput r = run_gilrun({"--", "args.lua", "x"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "arg0=args.lua\nargc=1\narg1=x\n"));
}

TEST(CliTest, ExecutesStringsInOrder) {
  const RunOutput r = run_gilrun({"-e", "x = 20", "-e", "print('e', x + 1)"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "e\t21\n");
}

TEST(CliTest, ExecuteThenScriptRunsBoth) {
  // lua.c: `lua -e 'x=1' script.lua a` runs the string, then the script with
  // its arguments. (-e must take one value per occurrence, not every word
  // up to the next option.)
  const RunOutput r = run_gilrun({"-e", "print('from -e')", "args.lua", "one"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "from -e\n"));
  EXPECT_TRUE(contains(r.out, "arg0=args.lua\nargc=1\narg1=one\n"));
}

TEST(CliTest, RequireLoadsACModuleFromPackageCpath) {
  // Built the way LuaRocks builds modules: not linked against liblua.
  const std::string dir = ::testing::TempDir();
  const std::string so = dir + "tiny_module.so";
  const std::string cc = "cc -shared -fPIC -I/usr/include/lua5.4 -o " + so + " " +
                         GILRUN_TEST_DATA "/tiny_module.c 2>&1";
  if (std::system(cc.c_str()) != 0) GTEST_SKIP() << "no C compiler: " << cc;
  const RunOutput r = run_gilrun(
      {"-e", "package.cpath = '" + dir + "?.so;' .. package.cpath "
             "print(require('tiny_module').answer())"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "42\n");
}

TEST(CliTest, RequireLibraryIntoGlobal) {
  const RunOutput r = run_gilrun({"-l", "gil", "-e", "print(gil.policy())"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "interval\n");
}

TEST(CliTest, RequireLibraryThenScript) {
  // Like -e: `-l mod` takes one module name; the next word is the script.
  const RunOutput r = run_gilrun({"-l", "gil", "args.lua", "one"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "arg0=args.lua\nargc=1\narg1=one\n"));
}

TEST(CliTest, DashReadsScriptFromStdin) {
  const RunOutput r = run_gilrun({"-", "p", "q"}, "print('stdin', arg[0], ...)\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "stdin\t-\tp\tq\n");
}

TEST(CliTest, NoScriptAndPipedStdinRunsStdin) {
  const RunOutput r = run_gilrun({}, "local x = 1 + 1\nprint(x)\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "2\n");
}

TEST(CliTest, ErrorInStdinScriptNamesStdin) {
  const RunOutput r = run_gilrun({"-"}, "\nerror('from stdin')\n");
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: stdin:2: from stdin\nstack traceback:\n")) << r.err;
}

// ---------------------------------------------------------------------------
// The rest of lua.c's command line: LUA_INIT, -E, -W, -l g=mod, the order of
// -e and -l, the script's `...`, the collector's mode, error objects.

// write_temp() writes a file under the test temp dir; returns its path.
std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(CliTest, LuaInitRunsFirstWithArgSet) {
  const RunOutput r = run_gilrun({"-e", "print('X', X)", "args.lua", "3.2"}, "",
                                 {"LUA_INIT=X = tonumber(arg[1]) print('init')"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(starts_with(r.out, "init\nX\t3.2\narg0=args.lua\n")) << r.out;
}

TEST(CliTest, LuaInitAtFileRunsTheFile) {
  const std::string init = write_temp("gilrun_init.lua", "print('from init file', ...)\n");
  const RunOutput r = run_gilrun({"-e", "print('then -e')"}, "", {"LUA_INIT=@" + init});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "from init file\nthen -e\n");  // the file gets no arguments
}

TEST(CliTest, LuaInitVersionedNameWins) {
  const RunOutput r = run_gilrun({"-e", "print(X)"}, "", {"LUA_INIT_5_4=X = 54", "LUA_INIT=X = 0"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "54\n");
}

TEST(CliTest, LuaInitErrorIsReportedAndStopsTheRun) {
  const RunOutput r = run_gilrun({"-e", "print('ran')"}, "", {"LUA_INIT=error('msg')"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: LUA_INIT:1: msg\nstack traceback:\n")) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, IgnoreEnvSkipsLuaInitAndLuaPath) {
  const std::string code = "print(package.path:find('xxx') == nil, package.cpath:find('xxx') == nil)";
  const std::vector<std::string> env = {"LUA_INIT=error('ran')", "LUA_PATH=xxx",
                                        "LUA_CPATH=xxx", "LUA_PATH_5_4=xxx"};
  RunOutput r = run_gilrun({"-E", "-e", code}, "", env);
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "true\ttrue\n");
  r = run_gilrun({"-e", "print(package.path)"}, "", {"LUA_PATH=xxx"});  // without -E
  EXPECT_EQ(r.out, "xxx\n") << describe(r);
}

TEST(CliTest, WarningsAreOffUnlessW) {
  RunOutput r = run_gilrun({"-e", "warn('hidden')"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.err, "");
  r = run_gilrun({"-W", "-e", "warn('shown')"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.err, "Lua warning: shown\n");
}

TEST(CliTest, RequireIntoANamedGlobal) {
  const RunOutput r = run_gilrun({"-l", "str=string", "-lm=math", "-e", "print(str.upper('a'), m.max(1, 2), string ~= nil)"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "A\t2\ttrue\n");
}

TEST(CliTest, ExecAndRequireRunInCommandLineOrder) {
  // lua.c runs -e and -l as they come: the -e defines the module -l loads.
  const RunOutput r = run_gilrun(
      {"-e", "package.preload.m = function() print('loading m') return {v = 7} end",
       "-l", "m", "-e", "print(m.v)"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "loading m\n7\n");
}

TEST(CliTest, ScriptKeepsItsArgumentsAfterExec) {
  RunOutput r = run_gilrun({"-e", "x = 1", "args.lua", "a"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "argc=1\narg1=a\ndots=a\n")) << r.out;
  r = run_gilrun({"-e", "x = 1", "-", "a", "b"}, "print(x, ...)\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "1\ta\tb\n");
}

TEST(CliTest, ScriptArgumentsAreReadFromTheArgTable) {
  // As lua.c: `...` is arg[1..#arg] when the script starts.
  RunOutput r = run_gilrun({"-e", "arg[1] = 100", "-"}, "print(...)\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "100\n");
  r = run_gilrun({"-e", "arg = 1", "-"}, "print(...)\n");
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "gilrun: 'arg' is not a table"));
}

TEST(CliTest, ArgTableHoldsTheOptionsAtNegativeIndices) {
  const RunOutput r = run_gilrun(
      {"--gil=fifo", "-e ", "-", "a"},  // "-e " runs " "
      "print(arg[-4], arg[-3], arg[-2], arg[-1], arg[0], arg[1], arg[2])\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "nil\tgilrun\t--gil=fifo\t-e \t-\ta\tnil\n");
}

TEST(CliTest, DashAfterDoubleDashIsAFileName) {
  const RunOutput r = run_gilrun({"--", "-"}, "print('stdin')\n");
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: cannot open -")) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, CollectorStartsGenerational) {
  const RunOutput r = run_gilrun({"-e", "print(collectgarbage('incremental'))"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "generational\n");
}

TEST(CliTest, ErrorObjectsAreReportedAsLuaDoes) {
  // __tostring gives the message (and no traceback); other objects name their type.
  RunOutput r = run_gilrun({"-"}, "error(setmetatable({}, {__tostring = function() return 'custom' end}))\n");
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_EQ(r.err, "gilrun: custom\n");
  r = run_gilrun({"-"}, "error{}\n");
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: (error object is a table value)\nstack traceback:\n"))
      << r.err;
}

TEST(CliTest, OsExitWithCloseRunsPendingCloseAndFinalizers) {
  const RunOutput r = run_gilrun(
      {"-e", "setmetatable({}, {__gc = function() print('gc') end})\n"
             "local x <close> = setmetatable({}, {__close = function() print('closed') end})\n"
             "os.exit(3, true)"});
  EXPECT_EQ(r.exit_status, 3) << describe(r);
  EXPECT_EQ(r.out, "closed\ngc\n");
}

TEST(CliTest, VersionFlag) {
  for (const char* flag : {"-v", "--version"}) {
    const RunOutput r = run_gilrun({flag});
    EXPECT_EQ(r.exit_status, 0) << flag << "\n" << describe(r);
    EXPECT_TRUE(starts_with(r.out, "gilrun 0.1.0 (Lua 5.4")) << flag << ": " << r.out;
    EXPECT_TRUE(contains(r.out, "Copyright (C) 1994-")) << flag;  // as lua -v
    EXPECT_EQ(r.err, "") << flag;
  }
}

TEST(CliTest, VersionThenScript) {
  const RunOutput r = run_gilrun({"-v", "args.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(starts_with(r.out, "gilrun 0.1.0 (Lua 5.4")) << r.out;
  EXPECT_TRUE(contains(r.out, "arg0=args.lua\n"));
}

TEST(CliTest, HelpExitsZeroWithUsage) {
  const RunOutput r = run_gilrun({"--help"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "usage: gilrun [options] [script [args]]"));
  for (const char* option : {"-e stat", "-l mod", "-l g=mod", "-i ", "-v ", "-E ", "-W ",
                             "--switch-interval", "--gil", "--stats", "--trace", "bench"}) {
    EXPECT_TRUE(contains(r.out, option));
  }
  EXPECT_EQ(r.err, "");
}

// lua.c's options are single words: anything else is an error, worded as
// lua5.4 words it (the Lua test suite's main.lua checks these).
TEST(CliTest, BadLuaOptionsAreRejectedAsLuaDoes) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  for (const Case& c : {Case{{"-h"}, "gilrun: unrecognized option '-h'\n"},
                        Case{{"---"}, "gilrun: unrecognized option '---'\n"},
                        Case{{"-Ex"}, "gilrun: unrecognized option '-Ex'\n"},
                        Case{{"-vv"}, "gilrun: unrecognized option '-vv'\n"},
                        Case{{"-iv"}, "gilrun: unrecognized option '-iv'\n"},
                        Case{{"-e"}, "gilrun: '-e' needs argument\n"},
                        Case{{"-l"}, "gilrun: '-l' needs argument\n"},
                        Case{{"-e", "-v"}, "gilrun: '-e' needs argument\n"}}) {
    const RunOutput r = run_gilrun(c.args);
    EXPECT_EQ(r.exit_status, 2) << c.args[0] << "\n" << describe(r);
    EXPECT_TRUE(starts_with(r.err, c.message)) << r.err;
    EXPECT_TRUE(contains(r.err, "usage: gilrun"));
    EXPECT_EQ(r.out, "");
  }
}

TEST(CliTest, UnknownFlagPrintsUsageAndExitsTwo) {
  const RunOutput r = run_gilrun({"--no-such-flag", "args.lua"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "--no-such-flag"));
  EXPECT_TRUE(contains(r.err, "usage: gilrun"));
  EXPECT_EQ(r.out, "");  // and the script did not run
}

TEST(CliTest, UnknownShortFlagExitsTwo) {
  const RunOutput r = run_gilrun({"-z"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "-z"));
  EXPECT_TRUE(contains(r.err, "usage: gilrun"));
}

TEST(CliTest, BadStatsFormatExitsTwo) {
  const RunOutput r = run_gilrun({"--stats=xml", "args.lua"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "xml"));
  EXPECT_EQ(r.out, "");
}

// ---------------------------------------------------------------------------
// The switch interval: flag and environment.

const char* kPrintInterval = "print(string.format('%.6f', require('gil').switchinterval()))";

TEST(CliTest, SwitchIntervalFlag) {
  RunOutput r = run_gilrun({"--switch-interval=1ms", "-e", kPrintInterval});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "0.001000\n");
  r = run_gilrun({"--switch-interval", "500us", "-e", kPrintInterval});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "0.000500\n");
}

TEST(CliTest, DefaultSwitchIntervalIsFiveMilliseconds) {
  const RunOutput r = run_gilrun({"-e", kPrintInterval});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "0.005000\n");
}

TEST(CliTest, SwitchIntervalEnvironment) {
  const RunOutput r = run_gilrun({"-e", kPrintInterval}, "", {"GILRUN_SWITCH_INTERVAL=2ms"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "0.002000\n");
}

TEST(CliTest, SwitchIntervalFlagOverridesEnvironment) {
  const RunOutput r = run_gilrun({"--switch-interval=1ms", "-e", kPrintInterval}, "",
                                 {"GILRUN_SWITCH_INTERVAL=2ms"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "0.001000\n");
}

TEST(CliTest, BadSwitchIntervalFlagExitsTwo) {
  const std::pair<const char*, const char*> cases[] = {
      {"abc", "is not a duration"}, {"0ms", "must be positive"}, {"-5ms", "must be positive"},
      {"5 ms", "is not a duration"}, {"ms", "is not a duration"},
      {"5parsecs", "is not a duration"}, {"0", "has no unit"}};
  for (const auto& [bad, why] : cases) {
    const RunOutput r = run_gilrun({std::string("--switch-interval=") + bad, "-e", "print('ran')"});
    EXPECT_EQ(r.exit_status, 2) << bad << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, std::string("--switch-interval: '") + bad + "' " + why)) << bad;
    EXPECT_EQ(r.out, "") << bad;
  }
}

TEST(CliTest, BadSwitchIntervalEnvironmentExitsTwo) {
  const RunOutput r =
      run_gilrun({"-e", "print('ran')"}, "", {"GILRUN_SWITCH_INTERVAL=abc"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "GILRUN_SWITCH_INTERVAL: 'abc' is not a duration"));
  EXPECT_EQ(r.out, "");
}

// ---------------------------------------------------------------------------
// Exit statuses and error reports.

TEST(CliTest, SuccessExitsZero) {
  const RunOutput r = run_gilrun({"-e", "local x = 1"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, UncaughtErrorExitsOneWithTraceback) {
  const RunOutput r = run_gilrun({"error.lua"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: error.lua:4: boom\nstack traceback:\n")) << r.err;
  EXPECT_TRUE(contains(r.err, "error.lua:6: in main chunk"));
}

TEST(CliTest, ErrorInExecutedString) {
  const RunOutput r = run_gilrun({"-e", "error('nope')"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: (command line):1: nope\nstack traceback:\n")) << r.err;
}

TEST(CliTest, ErrorStopsLaterSteps) {
  // Like lua.c: the first failing step ends the run.
  const RunOutput r = run_gilrun({"-e", "error('first')", "--", "args.lua"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(lacks(r.out, "arg0="));
}

TEST(CliTest, SyntaxErrorNamesFileAndLine) {
  const RunOutput r = run_gilrun({"syntax_error.lua"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: syntax_error.lua:3:")) << r.err;
  EXPECT_TRUE(contains(r.err, "near 'then'"));
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, MissingScriptExitsOne) {
  const RunOutput r = run_gilrun({"no_such_script.lua"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "gilrun: cannot open no_such_script.lua"));
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, OsExitStatuses) {
  struct Case {
    const char* code;
    int status;
  };
  for (const Case& c : {Case{"os.exit(3)", 3}, Case{"os.exit(0)", 0}, Case{"os.exit()", 0},
                        Case{"os.exit(true)", 0}, Case{"os.exit(false)", 1},
                        Case{"os.exit(42, true)", 42}}) {
    const RunOutput r = run_gilrun({"-e", std::string("io.write('before ') ") + c.code + " print('after')"});
    EXPECT_EQ(r.exit_status, c.status) << c.code << "\n" << describe(r);
    EXPECT_EQ(r.out, "before ") << c.code;  // flushed, and nothing after it ran
  }
}

TEST(CliTest, OsExitFromNonMainThread) {
  const RunOutput r = run_gilrun({"exit_from_thread.lua"});
  EXPECT_EQ(r.exit_status, 5) << describe(r);
  EXPECT_EQ(r.out, "thread exiting\n");
  EXPECT_EQ(r.term_signal, 0);
}

// ---------------------------------------------------------------------------
// Threads at exit.

TEST(CliTest, WaitsForNonDaemonThreads) {
  const RunOutput r = run_gilrun({"non_daemon_wait.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "main done\nthread done 4500001500000\n");
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, DoesNotWaitForDaemonThreads) {
  // Daemons blocked forever: the process still exits 0 (a hang is caught by
  // the limit in run_gilrun, a crash by the status/signal checks).
  const RunOutput r = run_gilrun({"daemon_blocked.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "main done\n");
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, DaemonBusyLoopWithOsExit) {
  const RunOutput r = run_gilrun(
      {"-e",
       "local t = require 'thread'; local s = require 'sync'; local e = s.event()\n"
       "t.spawn{function() e:set(); while true do end end, daemon = true}\n"
       "e:wait(); os.exit(9)"});
  EXPECT_EQ(r.exit_status, 9) << describe(r);
}

TEST(CliTest, UnjoinedFailedThreadIsReported) {
  const RunOutput r = run_gilrun({"thread_unjoined_failure.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "main done\n");
  EXPECT_TRUE(contains(r.err, "gilrun: thread 'worker' (#2) failed and was never joined:\n"
                              "thread_unjoined_failure.lua:4: worker exploded\n"
                              "stack traceback:\n"));
  // Reported once.
  const auto first = r.err.find("never joined");
  EXPECT_EQ(r.err.find("never joined", first + 1), std::string::npos) << r.err;
}

// The registry folds finished threads away after the last 100; a failure
// nobody joined is still reported at exit, once.
TEST(CliTest, UnjoinedFailureOfAFoldedThreadIsStillReported) {
  const RunOutput r = run_gilrun(
      {"-e", "local t = require'thread' local h = t.spawn{function() error('lost') end, "
             "name = 'early'} repeat until not h:alive() "
             "for _ = 1, 150 do t.spawn(function() end):join() end"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "gilrun: thread 'early' (#2) failed and was never joined:\n"))
      << r.err;
  const auto first = r.err.find("never joined");
  EXPECT_EQ(r.err.find("never joined", first + 1), std::string::npos) << r.err;
}

// The traceback ends in one C frame, lua.c's pmain, as lua5.4's does (a
// second one appeared when with_lua() became a protected call).
TEST(CliTest, ErrorTracebackEndsAsLuasDoes) {
  const RunOutput r = run_gilrun({"-e", "error('boom')"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  const std::string tail = "\t(command line):1: in main chunk\n\t[C]: in ?\n";
  ASSERT_GE(r.err.size(), tail.size()) << r.err;
  EXPECT_EQ(r.err.substr(r.err.size() - tail.size()), tail) << r.err;
}

TEST(CliTest, JoinReraisesThreadError) {
  const RunOutput r = run_gilrun({"thread_join_error.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "ok=false\ncaught: thread_join_error.lua:5: worker exploded"));
  EXPECT_TRUE(lacks(r.err, "never joined"));  // it was joined
}

TEST(CliTest, UncaughtJoinErrorExitsOne) {
  const RunOutput r = run_gilrun({"thread_join_error.lua", "uncaught"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: thread_join_error.lua:5: worker exploded\n")) << r.err;
  EXPECT_TRUE(contains(r.err, "in method 'join'"));
  EXPECT_TRUE(lacks(r.err, "never joined"));
}

// ---------------------------------------------------------------------------
// The interactive prompt with piped stdin. As Debian's lua5.4 it reads with
// readline, which prints the prompt and echoes each line even when stdin is
// not a terminal; -i prints the version first.

TEST(CliTest, InteractivePrintsExpressionsAndRunsStatements) {
  const std::string input =
      "1+1\n"
      "for i = 1, 3 do\n"
      "  io.write(i, ' ')\n"
      "end\n"
      "print('|')\n"
      "function double(x)\n"
      "  return 2 * x\n"
      "end\n"
      "double(21)\n"
      "'a', nil, 3\n"
      "=double(2)\n"
      "error('oops')\n"
      "print('still here')\n";
  const RunOutput r = run_gilrun({"-e", "_PROMPT = '' _PROMPT2 = ''", "-i"}, input);
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(starts_with(r.out, "gilrun 0.1.0 (Lua 5.4")) << r.out;
  for (const char* result : {"1+1\n2\n", "1 2 3 print('|')\n|\n", "double(21)\n42\n",
                             "'a', nil, 3\na\tnil\t3\n", "=double(2)\n4\n", "still here\n"}) {
    EXPECT_TRUE(contains(r.out, result));
  }
  // Errors at the prompt have no program name in front.
  EXPECT_TRUE(starts_with(r.err, "stdin:1: oops\nstack traceback:\n")) << r.err;
}

TEST(CliTest, InteractivePromptsComeFromPromptVariables) {
  const RunOutput r = run_gilrun(
      {"-e", "_PROMPT = setmetatable({}, {__tostring = function() return 'P1:' end}) "
             "_PROMPT2 = 'P2:'",
       "-i"},
      "x = \n5\nx\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "P1:x = \nP2:5\nP1:x\n5\nP1:\n")) << r.out;
}

TEST(CliTest, InteractiveDefaultPrompts) {
  const RunOutput r = run_gilrun({"-i"}, "do\nend\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "> do\n>> end\n> \n")) << r.out;
}

TEST(CliTest, InteractiveReportsAFailingPrint) {
  const RunOutput r = run_gilrun({"-e", "print = nil", "-i"}, "10\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "error calling 'print' (attempt to call a nil value)")) << r.err;
}

TEST(CliTest, InteractiveAfterExecutedString) {
  const RunOutput r = run_gilrun({"-e", "x = 20", "-i"}, "x + 1\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "> x + 1\n21\n")) << r.out;
}

TEST(CliTest, InteractiveAfterScript) {
  const RunOutput r = run_gilrun({"-i", "args.lua", "z"}, "arg[1] .. '!'\n");
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "arg1=z\n"));
  EXPECT_TRUE(contains(r.out, "z!\n"));
}

// ---------------------------------------------------------------------------
// Ctrl-C.

TEST(CliTest, SigintStopsBusyMainThread) {
  Child child(gilrun_spec({"sigint_busy.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: ")) << r.err;
  // The position of the loop, as a wait in C gives its caller's (it had none).
  // "ready" is seen while print may still be returning: then it is print's line.
  EXPECT_TRUE(contains(r.err, "sigint_busy.lua:4: interrupted") ||
              contains(r.err, "sigint_busy.lua:2: interrupted") ||
              contains(r.err, "sigint_busy.lua:3: interrupted")) << r.err;
  EXPECT_TRUE(contains(r.err, "stack traceback:"));
}

// Interrupted at a C function's call or return event (the breaker asks for
// them), the error had no position at all: "gilrun: interrupted". It is the
// line that called the C function.
TEST(CliTest, SigintInALoopOfCCallsNamesTheLine) {
  Child child(gilrun_spec({"sigint_busy_c.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "sigint_busy_c.lua:4: interrupted") ||
              contains(r.err, "sigint_busy_c.lua:2: interrupted") ||
              contains(r.err, "sigint_busy_c.lua:3: interrupted")) << r.err;
}

TEST(CliTest, SigintStopsSleep) {
  Child child(gilrun_spec({"sigint_sleep.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "interrupted"));
}

// The first Ctrl-C killed the busy green thread silently and joinall
// returned as if it had finished; it is the main thread's wait it ends.
TEST(CliTest, SigintInterruptsJoinallWhileAGreenThreadIsBusy) {
  Child child(gilrun_spec({"sigint_green_joinall.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);
  ASSERT_TRUE(child.wait_for(Stream::err, "in function 'green.joinall'"))
      << describe(child.so_far());
  // As for OS threads, the end of the script then waits for the (still
  // busy) green thread, and a second Ctrl-C ends that wait.
  child.signal(SIGINT);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "sigint_green_joinall.lua:9: interrupted")) << describe(r);
  EXPECT_FALSE(contains(r.out, "joinall returned")) << describe(r);
}

// Issue 13: every futures wait is ended by Ctrl-C in an OS thread, like
// every other blocking call (each is a queue get underneath).
TEST(CliTest, SigintStopsEachFuturesWait) {
  for (const char* wait : {"result", "wait", "as_completed"}) {
    SCOPED_TRACE(wait);
    Child child(gilrun_spec({"sigint_future.lua", wait}));
    ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
    child.signal(SIGINT);
    const RunOutput r = child.finish();
    EXPECT_EQ(r.exit_status, 130) << describe(r);
    EXPECT_TRUE(contains(r.err, "interrupted")) << describe(r);
    EXPECT_FALSE(contains(r.out, "returned")) << describe(r);
  }
}

TEST(CliTest, SigintStopsJoinWhileAnotherThreadHoldsTheGil) {
  Child child(gilrun_spec({"sigint_join.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "interrupted"));
}

TEST(CliTest, SecondSigintEndsWaitForNonDaemonThread) {
  Child child(gilrun_spec({"sigint_exit_wait.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);  // stops the main chunk: a traceback
  ASSERT_TRUE(child.wait_for(Stream::err, "stack traceback:\n")) << describe(child.so_far());
  ASSERT_TRUE(child.wait_for(Stream::err, "in main chunk")) << describe(child.so_far());
  // The program now waits for "busy", which never ends; a second Ctrl-C,
  // sent as soon as the traceback is out, must end the process at once.
  child.signal(SIGINT);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "interrupted"));
  EXPECT_EQ(r.term_signal, 0);
}

TEST(CliTest, SigintWhileWaitingForThreadsAtExit) {
  // The main chunk has ended; the program waits for a non-daemon thread that
  // spins forever. Ctrl-C must end it with 130 (a first Ctrl-C may only
  // interrupt the wait, as in Python; then a second one must end it).
  Child child(gilrun_spec({"sigint_at_exit.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);
  ASSERT_TRUE(child.wait_for(Stream::err, "interrupted")) << describe(child.so_far());
  child.signal(SIGINT);  // harmless if it already exited (not reaped yet)
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_EQ(r.term_signal, 0);
}

// ---------------------------------------------------------------------------
// --stats.

TEST(CliTest, StatsTable) {
  const RunOutput r = run_gilrun({"--stats", "stats_threads.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "results 5999997 5999997\n");  // the table goes to stderr
  EXPECT_TRUE(contains(r.err, "GIL statistics: policy interval"));
  EXPECT_TRUE(contains(r.err, "switch interval 5.0 ms"));
  const std::string header = line_with(r.err, "wait p99");
  for (const char* column : {"id", "thread", "held", "held time", "waited", "acquires",
                             "switches", "forced", "voluntary", "futile", "wait p50",
                             "longest"}) {
    EXPECT_TRUE(contains(header, column));
  }
  EXPECT_TRUE(starts_with(line_with(r.err, "main"), "1 ")) << r.err;
  EXPECT_TRUE(starts_with(line_with(r.err, "alpha"), "2 ")) << r.err;
  EXPECT_TRUE(starts_with(line_with(r.err, "beta"), "3 ")) << r.err;
  EXPECT_TRUE(contains(r.err, " total "));
  EXPECT_TRUE(contains(r.err, "drop requests: "));
}

TEST(CliTest, StatsTableShowsSwitchInterval) {
  const RunOutput r = run_gilrun({"--switch-interval=1ms", "--stats=table", "-e", "local x"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "switch interval 1.0 ms"));
}

TEST(CliTest, StatsJson) {
  const RunOutput r = run_gilrun({"--stats=json", "stats_threads.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "results 5999997 5999997\n");
  EXPECT_TRUE(starts_with(r.err, "{")) << r.err;
  EXPECT_EQ(r.err.substr(r.err.size() >= 2 ? r.err.size() - 2 : 0), "}\n");
  for (const char* key : {"\"switches\":", "\"forced_drops\":", "\"awake_takes\":", "\"elapsed\":", "\"threads\":[",
                          "\"name\":\"main\"", "\"name\":\"alpha\"", "\"name\":\"beta\""}) {
    EXPECT_TRUE(contains(r.err, key));
  }
}

// --stats=json had its own string quoting, which copied invalid UTF-8 as
// is; every JSON output now goes through the runtime's one writer.
TEST(CliTest, StatsJsonEscapesAThreadNameThatIsNotUtf8) {
  const RunOutput r = run_gilrun(
      {"--stats=json", "-e", "require'thread'.spawn{function() end, name = 'bad\xff\"name'}:join()"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "\"name\":\"bad\\ufffd\\\"name\"")) << r.err;
}

TEST(CliTest, StatsPrintedOnOsExit) {
  const RunOutput r = run_gilrun({"--stats=json", "-e", "os.exit(4)"});
  EXPECT_EQ(r.exit_status, 4) << describe(r);
  EXPECT_TRUE(contains(r.err, "\"switches\":"));
}

TEST(CliTest, StatsPrintedAfterError) {
  const RunOutput r = run_gilrun({"--stats", "error.lua"});
  EXPECT_EQ(r.exit_status, 1) << describe(r);
  EXPECT_TRUE(starts_with(r.err, "gilrun: error.lua:4: boom\n")) << r.err;
  EXPECT_TRUE(contains(r.err, "GIL statistics"));
}

// ---------------------------------------------------------------------------
// Resource limits.


TEST(CliTest, SpawningMoreThreadsThanAllowedRaisesLuaError) {
#ifdef GILRUN_SANITIZED
  GTEST_SKIP() << "sanitizers reserve huge address space; RLIMIT_AS would stop them";
#endif
  Child child(gilrun_spec({"spawn_until_fail.lua"}, "", {}, rlim_t{1} << 30));  // 1 GiB
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "error: cannot start a new thread"));
  const std::string spawned = line_with(r.out, "spawned ");
  const std::string joined = line_with(r.out, "joined ");
  ASSERT_FALSE(spawned.empty()) << r.out;
  EXPECT_EQ(spawned.substr(8), joined.substr(7)) << r.out;  // every thread was joined
  EXPECT_GT(std::stoi(spawned.substr(8)), 0);
}

// ---------------------------------------------------------------------------
// The main demo runs.

TEST(CliTest, HelloDemoRuns) {
  const RunOutput r = run_gilrun({std::string(GILRUN_SOURCE_DIR) + "/scripts/hello.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "Hello"));
  EXPECT_EQ(r.err, "");
}

}  // namespace

// ---------------------------------------------------------------------------
// GIL policies and recordings: --gil, GILRUN_GIL, --check-interval,
// --force-switching, --trace, --timeline.

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(CliTest, GilFlagChoosesThePolicy) {
  for (const char* policy : {"interval", "ticks", "fifo", "priority", "isolated"}) {
    const RunOutput r = run_gilrun({std::string("--gil=") + policy, "-e", "print(require('gil').policy())"});
    EXPECT_EQ(r.exit_status, 0) << describe(r);
    EXPECT_EQ(r.out, std::string(policy) + "\n");
  }
}

TEST(CliTest, GilEnvironmentChoosesThePolicyAndTheFlagWins) {
  const std::string code = "print(require('gil').policy())";
  RunOutput r = run_gilrun({"-e", code}, "", {"GILRUN_GIL=fifo"});
  EXPECT_EQ(r.out, "fifo\n") << describe(r);
  r = run_gilrun({"--gil=ticks", "-e", code}, "", {"GILRUN_GIL=fifo"});
  EXPECT_EQ(r.out, "ticks\n") << describe(r);
  r = run_gilrun({"-e", code}, "", {"GILRUN_GIL=bogus"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "interval, ticks, fifo, priority or isolated"));
}

TEST(CliTest, BadPolicyFlagsExitTwoWithUsage) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--gil=bogus", "-e", ""},
        std::vector<std::string>{"--check-interval=0", "-e", ""},
        std::vector<std::string>{"--force-switching=maybe", "-e", ""}}) {
    const RunOutput r = run_gilrun(args);
    EXPECT_EQ(r.exit_status, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, "Usage")) << describe(r);
  }
}

TEST(CliTest, TicksWithCheckIntervalReleasesWhileAThreadWaits) {
  const RunOutput r = run_gilrun(
      {"--gil=ticks", "--check-interval=50", "-e",
       "local t = require 'thread'; local go, flag = false, false "
       "local h = t.spawn(function() while not go do end flag = true end) "
       "go = true while not flag do end h:join() "
       "print(require('gil').stats().forced_drops > 0)"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "true\n");
}

TEST(CliTest, TraceAndTimelineFilesAreWritten) {
  const std::string dir = ::testing::TempDir();
  const std::string trace = dir + "gilrun_trace.json";
  const std::string timeline = dir + "gilrun_timeline.html";
  const RunOutput r = run_gilrun({"--trace=" + trace, "--timeline=" + timeline, "stats_threads.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  const std::string json = read_file(trace);
  EXPECT_TRUE(contains(json, "\"traceEvents\""));
  EXPECT_TRUE(contains(json, "\"ph\":\"X\""));
  EXPECT_TRUE(contains(json, "\"running\""));
  EXPECT_TRUE(contains(json, "alpha"));  // the threads' names label their tracks
  const std::string html = read_file(timeline);
  EXPECT_TRUE(contains(html, "<html"));
  EXPECT_TRUE(contains(html, "stats_threads.lua"));
  EXPECT_TRUE(lacks(html, "https://"));
}

// Issue 12 item 10: output paths are opened before the run (the script used
// to run to its end, then the trace could not be written).
TEST(CliTest, UnwritableTraceFileIsAClearErrorBeforeTheRun) {
  for (const char* flag : {"--trace=", "--timeline="}) {
    const RunOutput r =
        run_gilrun({std::string(flag) + "/nonexistent-dir/x", "-e", "print('ran')"});
    EXPECT_EQ(r.exit_status, 1) << describe(r);
    EXPECT_EQ(r.out, "") << flag << ": the script must not run";
    EXPECT_EQ(r.err, "gilrun: cannot open /nonexistent-dir/x: No such file or directory\n");
  }
}

// Like a non-daemon OS thread, the sleeping green thread is then waited for
// at exit; a second Ctrl-C ends that wait.
TEST(CliTest, SigintStopsAJoinOnAGreenThread) {
  Child child(gilrun_spec({"green_sigint_join.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);  // ends the join in the main chunk: a traceback
  ASSERT_TRUE(child.wait_for(Stream::err, "in main chunk")) << describe(child.so_far());
  child.signal(SIGINT);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "interrupted"));
}

TEST(CliTest, UnjoinedFailingGreenThreadIsReportedOnce) {
  const RunOutput r = run_gilrun({"green_unjoined_failure.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "main done\n");
  EXPECT_TRUE(contains(r.err, "gilrun: green thread #1 failed and was never joined:\n"
                              "green_unjoined_failure.lua:4: green exploded\n"
                              "stack traceback:\n"));
  const auto first = r.err.find("never joined");
  EXPECT_EQ(r.err.find("never joined", first + 1), std::string::npos) << r.err;
}

TEST(CliTest, GreenBlockWarnReportsALongRunnerWithItsTraceback) {
  const RunOutput r = run_gilrun({"--green-block-warn=20ms", "green_block.lua"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out, "done\n");
  EXPECT_TRUE(contains(r.err, "gilrun: green thread #1 has run for "));
  EXPECT_TRUE(contains(r.err, "without yielding (--green-block-warn=20ms)"));
  EXPECT_TRUE(contains(r.err, "green_block.lua:5: in "));  // the spinning loop
  const RunOutput bad = run_gilrun({"--green-block-warn=soon", "-e", "print(1)"});
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_TRUE(contains(bad.err, "--green-block-warn: 'soon' is not a duration"));
}

TEST(CliTest, GreenStackSizeSetsTheStackAndRejectsWhatIsNotASize) {
  // On a 64 KiB stack deep pcall nesting is still Lua's catchable error.
  const RunOutput r = run_gilrun({"--green-stack-size=64K", "-e",
                                  "local function f() return pcall(f) end "
                                  "print(require('green').spawn(f):join())"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "stack overflow")) << describe(r);
  for (const char* bad : {"--green-stack-size=1K", "--green-stack-size=lots",
                          "--green-stack-size=1G"}) {
    const RunOutput b = run_gilrun({bad, "-e", "print(1)"});
    EXPECT_EQ(b.exit_status, 2) << bad;
    EXPECT_TRUE(contains(b.err, "is not a size from 64K to 256M")) << describe(b);
  }
}

// ---------------------------------------------------------------------------
// process module: Ctrl-C in the parent stops its children.

TEST(CliTest, CtrlCStopsChildProcesses) {
  Child child(gilrun_spec({"process_orphan.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "\n")) << describe(child.so_far());
  const std::string line = line_with(child.so_far().out, "child=");
  ASSERT_TRUE(starts_with(line, "child=")) << describe(child.so_far());
  const pid_t pid = static_cast<pid_t>(std::stol(line.substr(6)));
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  ASSERT_GE(pidfd, 0) << std::strerror(errno);
  child.signal(SIGINT);  // ends the join: the main chunk fails, gilrun exits
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "interrupted"));
  pollfd p{pidfd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 30000), 1) << "child " << pid << " outlived gilrun";  // a hang guard
  close(pidfd);
}

// ---------------------------------------------------------------------------
// Issue 12: every way out writes what was asked for (--stats, --trace,
// --timeline); clear messages for bad flags; Ctrl-C at the prompt.

// fresh_path() is a path in the test's temporary directory, removed first.
std::string fresh_path(const std::string& name) {
  const std::string path = ::testing::TempDir() + name;
  std::remove(path.c_str());
  return path;
}

// expect_recordings() checks the trace and the timeline a run wrote.
void expect_recordings(const std::string& trace, const std::string& timeline,
                       const std::string& thread_name) {
  const std::string json = read_file(trace);
  EXPECT_TRUE(contains(json, "\"traceEvents\"")) << trace;
  EXPECT_TRUE(contains(json, "\"name\":\"" + thread_name + "\"")) << json;
  EXPECT_EQ(json.substr(json.size() >= 2 ? json.size() - 2 : 0), "}\n") << "complete JSON";
  const std::string html = read_file(timeline);
  EXPECT_TRUE(contains(html, "<html")) << timeline;
  EXPECT_TRUE(contains(html, "</html>")) << timeline;
}

// Item 8: os.exit wrote --stats only.
TEST(CliTest, OsExitWritesTraceAndTimeline) {
  for (const char* exit_call : {"os.exit(3)", "os.exit(3, true)"}) {
    const std::string trace = fresh_path("exit_trace.json");
    const std::string timeline = fresh_path("exit_timeline.html");
    const RunOutput r = run_gilrun({"--stats", "--trace=" + trace, "--timeline=" + timeline, "-e",
                                    std::string("require'thread'.spawn{function() end, "
                                                "name = 'worker'}:join() ") + exit_call});
    EXPECT_EQ(r.exit_status, 3) << exit_call << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, "GIL statistics")) << exit_call;
    expect_recordings(trace, timeline, "worker");
  }
}

// Item 9: a second Ctrl-C called _exit(130) and wrote nothing. The first
// stops the main chunk; the program waits for "busy", and the second ends
// it — through the exit path when it comes after the wait began, as an
// interrupted wait when it comes just before: both must write the record.
TEST(CliTest, SecondSigintWritesStatsTraceAndTimeline) {
  const std::string trace = fresh_path("sigint2_trace.json");
  const std::string timeline = fresh_path("sigint2_timeline.html");
  Child child(gilrun_spec({"--stats", "--trace=" + trace, "--timeline=" + timeline, "sigint_exit_wait.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGINT);
  ASSERT_TRUE(child.wait_for(Stream::err, "in main chunk")) << describe(child.so_far());
  child.signal(SIGINT);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "GIL statistics")) << describe(r);
  EXPECT_TRUE(starts_with(line_with(r.err, "busy"), "2 ")) << r.err;  // per-thread rows
  expect_recordings(trace, timeline, "busy");
}

// Item 9: SIGTERM killed the process (no status, nothing written).
TEST(CliTest, SigtermWritesStatsAndTraceThenExits143) {
  const std::string trace = fresh_path("sigterm_trace.json");
  const std::string timeline = fresh_path("sigterm_timeline.html");
  Child child(gilrun_spec({"--stats=json", "--trace=" + trace, "--timeline=" + timeline, "sigint_busy.lua"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGTERM);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.term_signal, 0) << describe(r);
  EXPECT_EQ(r.exit_status, 143) << describe(r);
  EXPECT_TRUE(contains(r.err, "terminated (SIGTERM)"));
  EXPECT_TRUE(contains(r.err, "\"name\":\"main\"")) << r.err;
  EXPECT_TRUE(lacks(r.err, "\"partial\""));
  expect_recordings(trace, timeline, "main");
}

// Item 9: a thread that holds the GIL inside a C call (a backtracking
// string.find) never lets go; SIGTERM (like a second Ctrl-C) writes the
// report without the per-thread rows after a bounded wait, instead of
// hanging or writing nothing.
TEST(CliTest, FatalSignalWhileTheGilIsHeldInCWritesWhatItCan) {
  const std::string trace = fresh_path("held_trace.json");
  const std::string timeline = fresh_path("held_timeline.html");
  Child child(gilrun_spec({"--stats=json", "--trace=" + trace, "--timeline=" + timeline, "-e",
                           "print('ready') io.stdout:flush() "
                           "string.find(string.rep('a', 60), string.rep('a*', 60) .. 'b')"}));
  ASSERT_TRUE(child.wait_for(Stream::out, "ready\n")) << describe(child.so_far());
  child.signal(SIGTERM);
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 143) << describe(r);
  EXPECT_TRUE(contains(r.err, "\"partial\":true,\"threads\":[]")) << r.err;
  expect_recordings(trace, timeline, "main");
}

// Item 10, for `gilrun bench`: --json and --chart were written only after
// the whole suite had run.
TEST(CliTest, BenchOutputPathsAreCheckedBeforeTheSuite) {
  for (const char* flag : {"--json=", "--chart="}) {
    const RunOutput r = run_gilrun(
        {"bench", "--quick", "--repeat=1", std::string(flag) + "/nonexistent-dir/b", "cpu2"});
    EXPECT_EQ(r.exit_status, 1) << describe(r);
    EXPECT_EQ(r.out, "") << flag << ": the suite must not start";
    EXPECT_TRUE(contains(r.err, "cannot open /nonexistent-dir/b: No such file or directory"));
  }
}

// Item 14: control characters in a thread's name went raw to the terminal.
TEST(CliTest, StatsTableEscapesControlCharactersInThreadNames) {
  const RunOutput r = run_gilrun(
      {"--stats", "-e", "require'thread'.spawn{function() end, name = 'a\\27[31m\\r\\nz'}:join()"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(lacks(r.err, "\x1b")) << r.err;
  EXPECT_TRUE(lacks(r.err, "\r")) << r.err;
  EXPECT_TRUE(starts_with(line_with(r.err, "a\\x1b[31m\\r\\nz"), "2 ")) << r.err;
}

// Item 15: "5" was 5 seconds, silently.
TEST(CliTest, SwitchIntervalNeedsAUnit) {
  RunOutput r = run_gilrun({"--switch-interval=5", "-e", "print('ran')"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "--switch-interval: '5' has no unit (use ns, us, ms or s"));
  EXPECT_EQ(r.out, "");
  r = run_gilrun({"-e", "print('ran')"}, "", {"GILRUN_SWITCH_INTERVAL=5"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "GILRUN_SWITCH_INTERVAL: '5' has no unit"));
  EXPECT_EQ(r.out, "");
}

// Item 15: a flag's missing value took the next word ("--trace -e x" ran x
// as the script; --version took the -e away).
TEST(CliTest, FlagsNeverTakeTheNextOptionAsTheirValue) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--trace=", "-e", "print('ran')"},
        std::vector<std::string>{"--trace", "-e", "print('ran')"}}) {
    const RunOutput r = run_gilrun(args);
    EXPECT_EQ(r.exit_status, 2) << describe(r);
    EXPECT_TRUE(starts_with(r.err, "gilrun: '" + args[0] + "' needs argument\n")) << r.err;
    EXPECT_EQ(r.out, "");
  }
  const RunOutput r = run_gilrun({"--version", "-e", "print('ran')"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "gilrun 0.1.0"));
  EXPECT_TRUE(contains(r.out, "ran\n"));
}

// Item 15: --green-block-warn=1ns was accepted and reported as "0ms".
TEST(CliTest, GreenBlockWarnBelowTheMonitorsResolutionIsRejected) {
  const RunOutput r = run_gilrun({"--green-block-warn=1ns", "-e", "print('ran')"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "--green-block-warn: '1ns' is shorter than 1ms"));
  EXPECT_EQ(r.out, "");
}

// Item 7: 1e10 s overflowed the conversion to nanoseconds (a 1 ns interval).
TEST(CliTest, HugeSwitchIntervalsAreRejected) {
  RunOutput r = run_gilrun(
      {"-e", "local gil = require 'gil' "
             "for _, v in ipairs{1e10, math.huge, 1e-12} do print(pcall(gil.switchinterval, v)) end "
             "print(gil.switchinterval())"});
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_EQ(r.out,
            "false\tbad argument #1 to 'gil.switchinterval' (switch interval must be at most "
            "3600 seconds (1 hour))\n"
            "false\tbad argument #1 to 'gil.switchinterval' (switch interval must be at most "
            "3600 seconds (1 hour))\n"
            "false\tbad argument #1 to 'gil.switchinterval' (switch interval must be at least "
            "1e-9 seconds (1 ns))\n"
            "0.005\n");
  r = run_gilrun({"--switch-interval=1e10s", "-e", "print('ran')"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "'1e10s' is longer than 1 hour"));
  r = run_gilrun({"-e", "print('ran')"}, "", {"GILRUN_SWITCH_INTERVAL=1e300ms"});
  EXPECT_EQ(r.exit_status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "GILRUN_SWITCH_INTERVAL: '1e300ms' is longer than 1 hour"));
}

// Item 17: Ctrl-C at the prompt printed nothing, and the next line typed
// was thrown away by an "interrupted" error; at ">>" the pending input
// stayed. Now the line is dropped and a fresh prompt follows.
TEST(CliTest, CtrlCAtThePromptGivesAFreshPrompt) {
  Child child(gilrun_spec({"-i"}, "", {}, 0, /*keep_stdin=*/true));
  // The version line ends in "\n", then each prompt is "> ".
  ASSERT_TRUE(child.wait_for(Stream::out, "\n> ", 1)) << describe(child.so_far());
  child.signal(SIGINT);  // at "> "
  ASSERT_TRUE(child.wait_for(Stream::out, "\n> ", 2)) << describe(child.so_far());
  child.send("x = (\n");
  ASSERT_TRUE(child.wait_for(Stream::out, ">> ")) << describe(child.so_far());
  child.signal(SIGINT);  // at ">>": "x = (" is dropped
  ASSERT_TRUE(child.wait_for(Stream::out, "\n> ", 3)) << describe(child.so_far());
  child.send("print('after', x)\n");
  child.close_stdin();
  const RunOutput r = child.finish();
  EXPECT_EQ(r.exit_status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "after\tnil\n")) << describe(r);
  EXPECT_EQ(r.err, "");
}
