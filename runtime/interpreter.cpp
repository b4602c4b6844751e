// interpreter.cpp — the public Interpreter: creates the parts of a Core,
// wires them together and runs chunks through the one protected path.
#include <lua.hpp>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "stdlib_replacements.h"
#include "core.h"
#include "green/fiber.h"
#include "green/hub.h"
#include "monitor/publish_gil.h"
#include "protected_call.h"
#include "report.h"
#include "wait/io_wait.h"
#include "stdlib_io.h"

namespace gilrun {
namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// MainGil holds the GIL for the main thread during one API call, so spawned
// threads run between calls.
class MainGil {
 public:
  explicit MainGil(Core& core) : core_(core) { core_.gil->take(*core_.main); }
  ~MainGil() { core_.gil->drop(*core_.main); }
  MainGil(const MainGil&) = delete;
  MainGil& operator=(const MainGil&) = delete;

 private:
  Core& core_;
};

// os.exit([status [, close]]): leave the process now, even with threads
// running; C's exit() would run destructors under their feet.
int os_exit(lua_State* L) {
  int status = EXIT_SUCCESS;
  if (lua_isboolean(L, 1)) {
    status = lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
  } else {
    status = static_cast<int>(luaL_optinteger(L, 1, EXIT_SUCCESS));
  }
  Core& core = core_of(L);
  // os.exit(s, true) closes the state first, as stock Lua's does (pending
  // __close and __gc run), when no other thread can be using it; then the
  // host writes what it records (the gilrun command: --stats, --trace,
  // --timeline), so the record includes the closing.
  if (lua_toboolean(L, 2) && core.threads.alive() == 1) lua_close(L);
  if (core.options.on_exit) core.options.on_exit(status, collect_stats(core));
  std::fflush(nullptr);
  if (core.publisher) core.publisher->close();
  _exit(status);
}

void install_os_exit(lua_State* L) {
  lua_getglobal(L, "os");
  if (lua_istable(L, -1)) {
    lua_pushcfunction(L, os_exit);
    lua_setfield(L, -2, "exit");
  }
  lua_pop(L, 1);
}

// call_host() runs a host callback that uses the Lua API under protection,
// so a Lua error inside it cannot longjmp through C++ frames.
RunResult call_host(lua_State* L, const std::function<void(lua_State*)>& fn) {
  lua_pushcfunction(L, [](lua_State* L) -> int {
    const auto& f = *static_cast<const std::function<void(lua_State*)>*>(lua_touserdata(L, 1));
    lua_settop(L, 0);
    f(L);
    return 0;
  });
  lua_pushlightuserdata(L, const_cast<std::function<void(lua_State*)>*>(&fn));
  const int status = protected_call(L, 1, 0);
  if (status == LUA_OK) return RunResult{};
  return pop_error(L, status);
}

GilFigures figures_of(const GilCounters& c) {
  GilFigures f;
  f.acquisitions = c.acquisitions;
  f.switches = c.switches;
  f.drop_requests = c.drop_requests;
  f.forced_drops = c.forced_drops;
  f.voluntary_drops = c.voluntary_drops;
  f.futile_wakeups = c.futile_wakeups;
  f.awake_takes = c.awake_takes;
  f.wait_time = seconds(c.wait_time);
  f.hold_time = seconds(c.hold_time);
  f.longest_wait = seconds(c.longest_wait);
  f.wait_p50 = c.waits.percentile(0.50);
  f.wait_p99 = c.waits.percentile(0.99);
  return f;
}

}  // namespace

GilSettings gil_settings_from(const Options& options) {
  GilSettings s;
  if (!parse_policy(options.policy, &s.policy)) {
    throw std::invalid_argument("unknown GIL policy '" + options.policy +
                                "' (choose interval, ticks, fifo, priority or isolated)");
  }
  if (options.switch_interval.count() <= 0) {
    throw std::invalid_argument("the switch interval must be positive");
  }
  if (options.check_interval < 1) {
    throw std::invalid_argument("the check interval must be at least 1 instruction");
  }
  s.switch_interval = options.switch_interval;
  s.force_switching = options.force_switching;
  s.check_interval = options.check_interval;
  return s;
}

// green_stack_from() is Options::green_stack_size resolved; throws
// std::invalid_argument when it is out of range.
static std::size_t green_stack_from(const Options& options) {
  const std::size_t size = Fiber::stack_size(options.green_stack_size);
  if (size == 0) {
    throw std::invalid_argument("the green thread stack size must be between " +
                                std::to_string(kMinFiberStack / 1024) + " KiB and " +
                                std::to_string(kMaxFiberStack / (1024 * 1024)) + " MiB");
  }
  return size;
}

Core::Core(const Options& opts)
    : options(opts),
      gil_settings(gil_settings_from(opts)),
      green_stack(green_stack_from(opts)),
      trace(opts.record_trace ? std::make_unique<TraceRecorder>() : nullptr),
      gil(Gil::create(gil_settings)) {
  gil->set_blame(&blame);
  if (opts.publish_gil) publish_gil(*this);
  if (opts.green_block_warn.count() > 0) {
    auto sink = opts.on_green_block;
    if (!sink) {
      sink = [this](const GreenBlockReport& r) { report(*this, default_green_block_message(r)); };
    }
    block_monitor = std::make_unique<BlockMonitor>(opts.green_block_warn, std::move(sink));
  }
}

Core& core_of(lua_State* L) { return **static_cast<Core**>(lua_getextraspace(L)); }

void set_core(lua_State* L, Core* core) {
  *static_cast<Core**>(lua_getextraspace(L)) = core;
}

Stats collect_totals(Core& core) {
  Stats s;
  static_cast<GilFigures&>(s) = figures_of(core.gil->totals());
  s.elapsed = seconds(Clock::now() - core.started);
  s.switch_interval = core.gil->switch_interval();
  s.policy = policy_name(core.gil_settings.policy);
  s.gil_load = s.elapsed > 0 ? core.gil->load_time() / s.elapsed : 0;
  s.switches_per_second = s.elapsed > 0 ? static_cast<double>(s.switches) / s.elapsed : 0;
  return s;
}

constexpr size_t kBlameSites = 100;  // lines per attribution table in Stats

Stats collect_stats(Core& core) {
  Stats s = collect_totals(core);
  auto add_row = [&](const ThreadRecord& record) {
    ThreadStats& t = s.threads[record.id];
    static_cast<GilFigures&>(t) = figures_of(
        record.state ? core.gil->counters(*record.state) : record.final_counters);
    t.id = record.id;
    t.name = record.name;
    t.alive = !record.done;
  };
  for (const auto& record : core.threads.running()) add_row(*record);
  for (const auto& record : core.threads.recently_finished()) add_row(*record);
  if (const uint64_t n = core.threads.earlier_count(); n > 0) {
    ThreadStats& t = s.threads[0];  // one row for the threads folded away
    static_cast<GilFigures&>(t) = figures_of(core.threads.earlier());
    t.id = 0;
    t.name = "(" + std::to_string(n) + " earlier threads)";
    t.alive = false;
  }
  core.blame.fill(&s, kBlameSites);
  return s;
}

const char* version() { return "gilrun 0.1.0 (" LUA_RELEASE ")"; }

Interpreter::Interpreter(const Options& options) : core_(std::make_shared<Core>(options)) {
  Core& core = *core_;
  EvalBreaker::install_signal_handler();
  auto main_record = core.threads.add("main", false);
  core.main = std::make_unique<ThreadState>(core_, main_record->id, main_record->name);
  main_record->state = core.main.get();
  if (options.handle_sigint) {
    core.sigint = std::make_unique<SigintWatcher>(*core.main, options.handle_sigterm);
  }

  core.L = luaL_newstate();
  if (core.L == nullptr) throw std::bad_alloc();
  set_core(core.L, &core);
  core.main->attach(core.L);
  MainGil gil(core);
  if (options.ignore_env) {  // what lua.c does for -E: package reads no variables
    lua_pushboolean(core.L, 1);
    lua_setfield(core.L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  if (options.open_libs) {
    luaL_openlibs(core.L);
    install_coroutine_tracking(core.L);
    install_debug_hooks(core.L);
    install_os_exit(core.L);
    install_blocking_io(core.L);
  }
  if (options.libraries) {
    const RunResult r = call_host(core.L, options.libraries);
    if (!r) throw std::runtime_error("opening libraries failed: " + r.message);
  }
}

Interpreter::~Interpreter() { close(); }

lua_State* Interpreter::lua() const { return core_->L; }

RunResult Interpreter::with_lua(const std::function<void(lua_State*)>& fn) {
  MainGil gil(*core_);
  return call_host(core_->L, fn);
}

void Interpreter::register_function(const std::string& name, lua_CFunction fn) {
  MainGil gil(*core_);
  lua_pushcfunction(core_->L, fn);
  lua_setglobal(core_->L, name.c_str());
}

void Interpreter::set_args(const std::vector<std::string>& argv, int script_index) {
  MainGil gil(*core_);
  lua_State* L = core_->L;
  lua_createtable(L, static_cast<int>(argv.size()), script_index + 1);
  for (int i = 0; i < static_cast<int>(argv.size()); ++i) {
    lua_pushstring(L, argv[i].c_str());
    lua_rawseti(L, -2, i - script_index);
  }
  lua_setglobal(L, "arg");
  core_->script_args.assign(argv.begin() + std::min<size_t>(argv.size(), script_index + 1),
                            argv.end());
}

namespace {
RunResult run_loaded(Core& core, int load_status, int nargs) {
  lua_State* L = core.L;
  if (load_status != LUA_OK) {
    return pop_error(L, load_status);
  }
  for (const auto& a : core.script_args) lua_pushstring(L, a.c_str());
  const int status = protected_call(L, nargs, 0);
  if (status == LUA_OK) return RunResult{};
  return pop_error(L, status);
}
}  // namespace

RunResult Interpreter::run_file(const std::string& path) {
  MainGil gil(*core_);
  const int load = luaL_loadfile(core_->L, path == "-" ? nullptr : path.c_str());
  return run_loaded(*core_, load, static_cast<int>(core_->script_args.size()));
}

RunResult Interpreter::run_string(const std::string& code, const std::string& chunkname) {
  MainGil gil(*core_);
  const int load = luaL_loadbuffer(core_->L, code.data(), code.size(), chunkname.c_str());
  core_->script_args.clear();
  return run_loaded(*core_, load, 0);
}

RunResult Interpreter::eval(const std::string& line) {
  MainGil gil(*core_);
  lua_State* L = core_->L;
  const std::string as_expression = "return " + line;
  int load = luaL_loadbuffer(L, as_expression.data(), as_expression.size(), "=stdin");
  if (load != LUA_OK) {
    lua_pop(L, 1);
    load = luaL_loadbuffer(L, line.data(), line.size(), "=stdin");
  }
  if (load != LUA_OK) {
    RunResult r = pop_error(L, load);
    static const std::string kEof = "<eof>";
    if (load == LUA_ERRSYNTAX && r.message.size() >= kEof.size() &&
        r.message.compare(r.message.size() - kEof.size(), kEof.size(), kEof) == 0) {
      r.status = RunResult::incomplete;
    }
    return r;
  }
  const int base = lua_gettop(L);
  int status = protected_call(L, 0, LUA_MULTRET);
  if (status == LUA_OK && lua_gettop(L) >= base) {  // print the results
    const int n = lua_gettop(L) - base + 1;
    lua_getglobal(L, "print");
    lua_insert(L, base);
    status = protected_call(L, n, 0);
  }
  if (status == LUA_OK) return RunResult{};
  return pop_error(L, status);
}

RunResult Interpreter::require_module(const std::string& name) {
  MainGil gil(*core_);
  lua_State* L = core_->L;
  lua_getglobal(L, "require");
  lua_pushstring(L, name.c_str());
  const int status = protected_call(L, 1, 1);
  if (status != LUA_OK) {
    return pop_error(L, status);
  }
  lua_setglobal(L, name.c_str());
  return RunResult{};
}

namespace {
RunResult wait_for_threads_locked(Core& core) {
  ThreadRegistry& threads = core.threads;
  // The main thread's green threads first (OS threads run meanwhile).
  WaitStatus status = drain_green_threads(*core.main);
  if (status != WaitStatus::interrupted) {
    status = wait_until(*core.main, threads.exits(), std::nullopt,
                        [&] { return threads.alive_non_daemon() == 0; });
  }
  threads.report_unjoined_failures(core);
  RunResult r;
  if (status == WaitStatus::interrupted) {
    core.exit_interrupted = true;  // close() will not wait again
    r.status = RunResult::interrupted;
    r.message = "interrupted";
  }
  return r;
}
}  // namespace

RunResult Interpreter::wait_for_threads() {
  // From here on Ctrl-C ends the process: say so before waiting for the GIL.
  if (core_->sigint) core_->sigint->shutting_down();
  MainGil gil(*core_);
  return wait_for_threads_locked(*core_);
}

void Interpreter::close() {
  Core& core = *core_;
  if (core.closed) return;
  core.closed = true;
  if (core.sigint) core.sigint->shutting_down();
  core.gil->take(*core.main);
  if (!core.exit_interrupted) wait_for_threads_locked(core);
  core.sigint.reset();
  const bool stragglers = core.threads.alive() > 1;  // daemons (or interrupted waits)
  if (stragglers) core.gil->finalize(*core.main);
  lua_close(core.L);
  core.L = nullptr;
  core.main->detach();
  if (!stragglers) core.gil->drop(*core.main, /*exiting=*/true);
  core.threads.running().front()->state = nullptr;  // the main thread's record
  core.main.reset();  // breaks the Core <-> main ThreadState cycle
  if (core.publisher) core.publisher->close();  // daemons may keep the Core alive
}

Stats Interpreter::stats() const {
  MainGil gil(*core_);
  return collect_stats(*core_);
}

namespace {
std::string format_seconds(double s) {
  char buffer[64];
  if (s >= 1) {
    std::snprintf(buffer, sizeof buffer, "%.2f s", s);
  } else if (s >= 1e-3) {
    std::snprintf(buffer, sizeof buffer, "%.2f ms", s * 1e3);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f us", s * 1e6);
  }
  return buffer;
}

std::vector<std::pair<std::string, std::string>> summary_of(const Stats& s) {
  auto count = [](uint64_t n) { return std::to_string(n); };
  char load[32];
  std::snprintf(load, sizeof load, "%.1f%%", 100.0 * s.gil_load);
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.1f", s.switches_per_second);
  return {{"policy", s.policy},
          {"switch interval", format_seconds(std::chrono::duration<double>(s.switch_interval).count())},
          {"elapsed", format_seconds(s.elapsed)},
          {"switches", count(s.switches)},
          {"switches/s", rate},
          {"drop requests", count(s.drop_requests)},
          {"forced drops", count(s.forced_drops)},
          {"voluntary drops", count(s.voluntary_drops)},
          {"futile wakeups", count(s.futile_wakeups)},
          {"GIL load", load},
          {"wait p50", format_seconds(s.wait_p50)},
          {"wait p99", format_seconds(s.wait_p99)},
          {"longest wait", format_seconds(s.longest_wait)}};
}

const TraceRecorder& recorder_of(const Core& core) {
  if (!core.trace) throw std::logic_error("the interpreter was created without record_trace");
  return *core.trace;
}
}  // namespace

void Interpreter::write_trace(std::ostream& out) const {
  write_chrome_trace(out, recorder_of(*core_).timeline());
}

void Interpreter::write_timeline(std::ostream& out, const std::string& title) const {
  write_timeline(out, title, stats());
}

void Interpreter::write_timeline(std::ostream& out, const std::string& title,
                                 const Stats& stats) const {
  Timeline timeline = recorder_of(*core_).timeline();
  timeline.title = title;
  timeline.summary = summary_of(stats);
  timeline.holders = stats.holders;
  timeline.waiters = stats.waiters;
  write_timeline_html(out, timeline);
}

void Interpreter::set_switch_interval(std::chrono::nanoseconds interval) {
  core_->gil->set_switch_interval(interval);
}

namespace {

// holder_of() is the calling thread's state, for an embedding call given L:
// std::logic_error (naming `who`) unless the thread holds a gilrun GIL and L
// belongs to that GIL's interpreter.
ThreadState& holder_of(lua_State* L, const char* who) {
  ThreadState* ts = ThreadState::current();
  if (ts == nullptr) {
    throw std::logic_error(std::string(who) + ": this thread does not hold a gilrun GIL");
  }
  if (L == nullptr || &core_of(L) != ts->core.get()) {
    throw std::logic_error(std::string(who) +
                           ": L belongs to another interpreter than the GIL this thread holds");
  }
  return *ts;
}

}  // namespace

bool wait_readable(lua_State* L, int fd) {
  // The thread's own state: green threads' waits go through their hub.
  ThreadState& ts = holder_of(L, "wait_readable");
  return wait_fd(ts, fd, POLLIN, std::nullopt) != WaitStatus::interrupted;
}

GilReleased::GilReleased(lua_State* L) : thread_(&holder_of(L, "GilReleased")) {
  auto* ts = static_cast<ThreadState*>(thread_);
  ts->gil().drop(*ts);
}

GilReleased::~GilReleased() {
  auto* ts = static_cast<ThreadState*>(thread_);
  ts->gil().take(*ts);
}

}  // namespace gilrun
