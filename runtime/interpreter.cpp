// interpreter.cpp — the public Interpreter: creates the parts of a Core,
// wires them together and runs chunks through the one protected path.
#include <lua.hpp>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "coroutines.h"
#include "core.h"
#include "protected_call.h"

namespace gilrun {
namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// MainGil holds the GIL for the main thread during one API call, so spawned
// threads run between calls.
class MainGil {
 public:
  explicit MainGil(Core& core) : core_(core) { core_.gil.take(*core_.main); }
  ~MainGil() { core_.gil.drop(*core_.main); }
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
  if (core.options.on_exit) core.options.on_exit(status, collect_stats(core));
  std::fflush(nullptr);
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

ThreadStats thread_stats(const ThreadRecord& record, const GilCounters& c) {
  ThreadStats t;
  t.id = record.id;
  t.name = record.name;
  t.alive = !record.done;
  t.acquisitions = c.acquisitions;
  t.switches = c.switches;
  t.drop_requests = c.drop_requests;
  t.forced_drops = c.forced_drops;
  t.wait_time = seconds(c.wait_time);
  t.hold_time = seconds(c.hold_time);
  t.longest_wait = seconds(c.longest_wait);
  return t;
}

}  // namespace

Core& core_of(lua_State* L) { return **static_cast<Core**>(lua_getextraspace(L)); }

void set_core(lua_State* L, Core* core) {
  *static_cast<Core**>(lua_getextraspace(L)) = core;
}

Stats collect_stats(Core& core) {
  Stats s;
  const GilCounters total = core.gil.totals();
  s.elapsed = seconds(Clock::now() - core.started);
  s.acquisitions = total.acquisitions;
  s.switches = total.switches;
  s.drop_requests = total.drop_requests;
  s.forced_drops = total.forced_drops;
  s.wait_time = seconds(total.wait_time);
  s.hold_time = seconds(total.hold_time);
  s.longest_wait = seconds(total.longest_wait);
  s.switch_interval = core.gil.switch_interval();
  for (const auto& record : core.threads.all()) {
    const GilCounters c =
        record->state ? core.gil.counters(*record->state) : record->final_counters;
    s.threads[record->id] = thread_stats(*record, c);
  }
  return s;
}

const char* version() { return "gilrun 0.1.0 (" LUA_RELEASE ")"; }

Interpreter::Interpreter(const Options& options) : core_(std::make_shared<Core>(options)) {
  Core& core = *core_;
  EvalBreaker::install_signal_handler();
  auto main_record = core.threads.add("main", false);
  core.main = std::make_unique<ThreadState>(core_, main_record->id, main_record->name);
  main_record->state = core.main.get();
  if (options.handle_sigint) core.sigint = std::make_unique<SigintWatcher>(*core.main);

  core.L = luaL_newstate();
  if (core.L == nullptr) throw std::bad_alloc();
  set_core(core.L, &core);
  core.main->attach(core.L);
  MainGil gil(core);
  if (options.open_libs) {
    luaL_openlibs(core.L);
    install_coroutine_tracking(core.L);
    install_os_exit(core.L);
  }
}

Interpreter::~Interpreter() { close(); }

lua_State* Interpreter::lua() const { return core_->L; }

void Interpreter::with_lua(const std::function<void(lua_State*)>& fn) {
  MainGil gil(*core_);
  fn(core_->L);
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
    RunResult r = describe_error(L, load_status);
    lua_pop(L, 1);
    return r;
  }
  for (const auto& a : core.script_args) lua_pushstring(L, a.c_str());
  const int status = protected_call(L, nargs, 0);
  if (status == LUA_OK) return RunResult{};
  RunResult r = describe_error(L, status);
  lua_pop(L, 1);
  return r;
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
    RunResult r = describe_error(L, load);
    lua_pop(L, 1);
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
  RunResult r = describe_error(L, status);
  lua_pop(L, 1);
  return r;
}

RunResult Interpreter::require_module(const std::string& name) {
  MainGil gil(*core_);
  lua_State* L = core_->L;
  lua_getglobal(L, "require");
  lua_pushstring(L, name.c_str());
  const int status = protected_call(L, 1, 1);
  if (status != LUA_OK) {
    RunResult r = describe_error(L, status);
    lua_pop(L, 1);
    return r;
  }
  lua_setglobal(L, name.c_str());
  return RunResult{};
}

namespace {
RunResult wait_for_threads_locked(Core& core) {
  ThreadRegistry& threads = core.threads;
  if (core.sigint) core.sigint->shutting_down();
  const WaitStatus status = wait_until(*core.main, threads.exits(), std::nullopt,
                                       [&] { return threads.alive_non_daemon() == 0; });
  for (const auto& record : threads.all()) {
    if (record->done) ThreadRegistry::report_unjoined_failure(*record);
  }
  RunResult r;
  if (status == WaitStatus::interrupted) {
    r.status = RunResult::interrupted;
    r.message = "interrupted";
  }
  return r;
}
}  // namespace

RunResult Interpreter::wait_for_threads() {
  MainGil gil(*core_);
  return wait_for_threads_locked(*core_);
}

void Interpreter::close() {
  Core& core = *core_;
  if (core.closed) return;
  core.closed = true;
  core.gil.take(*core.main);
  wait_for_threads_locked(core);
  core.sigint.reset();
  const bool stragglers = core.threads.alive() > 1;  // daemons (or interrupted waits)
  if (stragglers) core.gil.finalize(*core.main);
  lua_close(core.L);
  core.L = nullptr;
  core.main->detach();
  if (!stragglers) core.gil.drop(*core.main, /*exiting=*/true);
  core.threads.all().front()->state = nullptr;
  core.main.reset();  // breaks the Core <-> main ThreadState cycle
}

Stats Interpreter::stats() const {
  MainGil gil(*core_);
  return collect_stats(*core_);
}

void Interpreter::set_switch_interval(std::chrono::nanoseconds interval) {
  core_->gil.set_switch_interval(interval);
}

GilReleased::GilReleased(lua_State* L) : thread_(ThreadState::current()) {
  auto* ts = static_cast<ThreadState*>(thread_);
  if (ts == nullptr) throw std::logic_error("GilReleased: this thread does not hold a gilrun GIL");
  ts->gil().drop(*ts);
}

GilReleased::~GilReleased() {
  auto* ts = static_cast<ThreadState*>(thread_);
  ts->gil().take(*ts);
}

}  // namespace gilrun
