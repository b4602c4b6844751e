// gilrun.h — the embedding API of the gilrun runtime.
//
// A C++ host includes this one header to run Lua 5.4 scripts on a shared VM
// behind a global interpreter lock: create an Interpreter, register host
// functions, run files or strings, read the GIL statistics. The `gilrun`
// command line program is a thin client of exactly this API.
//
// Threading contract: the thread that creates an Interpreter is its main
// thread; call run_file/run_string/stats/close from it. Lua threads spawned by
// scripts (require "thread") run on their own OS threads and contend for the
// GIL. Host functions run with the GIL held; wrap their blocking part in
// gilrun::GilReleased (and touch no Lua state inside it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct lua_State;
typedef int (*lua_CFunction)(lua_State*);

namespace gilrun {

const char* version();  // "gilrun 0.1.0 (Lua 5.4.x)"

struct Stats;

// GreenBlockReport is one report of Options::green_block_warn.
struct GreenBlockReport {
  uint64_t green_id = 0;                // the green thread's number (#N)
  std::chrono::nanoseconds ran{};       // how long it has run without yielding
  std::chrono::nanoseconds limit{};     // Options::green_block_warn
  std::string traceback;                // "stack traceback:\n..." where it runs
};

// default_green_block_message() is the report's text as the runtime hands
// it to Options::report when no on_green_block is set: "gilrun: green
// thread #N has run for ..."
std::string default_green_block_message(const GreenBlockReport& report);

// print_report() is what the runtime does with a report when no
// Options::report is set: writes it and a newline to stderr, and flushes.
void print_report(std::string_view report);

struct Options {
  // The GIL policy: "interval" (CPython >= 3.2, the default), "ticks"
  // (CPython 2), "fifo" (Ruby's GVL), "priority" (I/O threads first, the
  // convoy fix) or "isolated" (every thread its own VM, values copied).
  std::string policy = "interval";
  // How long a waiting thread lets the holder run before it asks for the
  // GIL (CPython's sys.setswitchinterval, 5 ms by default; fifo's quantum).
  std::chrono::nanoseconds switch_interval = std::chrono::milliseconds(5);
  // interval: after a forced drop, wait until a waiter took the GIL.
  bool force_switching = true;
  // ticks: VM instructions between checks (CPython 2's sys.setcheckinterval).
  int check_interval = 100;
  // Record every GIL state change for Interpreter::write_trace() and
  // write_timeline() (--trace, --timeline).
  bool record_trace = false;
  // Called with every new VM's lua_State (the main one, and each isolated
  // thread's), GIL held, after the standard libraries: register libraries
  // here. The gilrun command passes gilrun::preload_modules.
  std::function<void(lua_State*)> libraries;
  // Make Ctrl-C raise "interrupted" in the main thread. A second Ctrl-C
  // (or one while the program waits for its threads at exit) ends the
  // process with status 130, after on_exit. For programs that own the
  // process's SIGINT: it is blocked in the creating thread (and the threads
  // it creates) for good.
  bool handle_sigint = false;
  // With handle_sigint: SIGTERM ends the process with status 143, after
  // on_exit (blocked and taken the same way).
  bool handle_sigterm = false;
  // Open Lua's standard libraries (coroutine.resume/wrap are replaced by
  // versions the GIL can preempt inside). The gilrun modules (thread, sync,
  // queue, time, gil, pipe, process, green, net, futures and cluster) come
  // from the bindings: gilrun::preload_modules() (gilrun/modules.h).
  bool open_libs = true;
  // Like `lua -E`: the package library ignores LUA_PATH/LUA_CPATH (and their
  // _5_4 forms) and uses Lua's default paths.
  bool ignore_env = false;
  // Report a green thread that runs this long without yielding, with its
  // traceback (to on_green_block, else to `report`; 0: off). Costs a clock
  // read per green thread switch while on.
  std::chrono::nanoseconds green_block_warn{0};
  // Takes the green_block_warn reports, as fields, instead of `report`.
  // Called on the blocked green thread's OS thread with the GIL held; it
  // must not call into Lua.
  std::function<void(const GreenBlockReport&)> on_green_block;
  // Each green thread's stack slot in bytes, guard page included; whole
  // pages, 64 KiB to 256 MiB. 0: 256 KiB where the kernel has guard pages
  // without a VMA each (Linux >= 6.13), else 1 MiB. Smaller stacks cost
  // less page table per green thread (slot / 512) and allow fewer nested C
  // calls (pcall, metamethods, gsub callbacks: ~3 KiB each, at most 199)
  // before Lua's catchable "C stack overflow"; deeper recursion in a host C
  // function hits the guard page and ends the process with a message.
  std::size_t green_stack_size = 0;
  // Called when the process is about to end without returning to the host
  // (other threads may still be running; the process then exits without
  // unwinding): when a script calls os.exit(status), on the exiting thread
  // with the GIL held; on a second Ctrl-C (status 130) or SIGTERM (143), on
  // the signal watcher's thread, with the GIL held for it when it could be
  // taken within a second, else with Stats::partial set. It may write files
  // but must not call back into the Interpreter except write_trace() and
  // write_timeline(out, title, stats), which need no GIL.
  std::function<void(int status, const Stats& stats)> on_exit;
  // The gilrun binary that `process` children run (worker and exec modes,
  // see gilrun/process_entry.h). Empty: this program itself (/proc/self/exe);
  // a host that is not the gilrun command names the gilrun binary here.
  std::string worker_executable;
  // Takes what the runtime reports unasked, one text (no trailing newline)
  // per call: a thread or green thread that failed and was never joined,
  // with its traceback ("gilrun: thread 'name' (#2) failed and was never
  // joined:\n..."), a futures done callback that raised ("gilrun: futures:
  // a done callback failed: ..."), and green_block_warn's reports when
  // on_green_block is not set. Called from any thread, possibly without the GIL; it must not
  // throw or call back into the interpreter. Empty: print_report (stderr).
  std::function<void(std::string_view report)> report;
  // Publish the GIL's counters for `gilrun top` (a mode 0600 shared-memory
  // file in $XDG_RUNTIME_DIR or /dev/shm, removed at close; runtime/monitor/).
  bool publish_gil = true;
};

// GilFigures are the GIL counters, for one thread or for the whole run.
struct GilFigures {
  uint64_t acquisitions = 0;
  uint64_t switches = 0;         // takes where the holder changed
  uint64_t drop_requests = 0;    // waits that asked the holder to drop
  uint64_t forced_drops = 0;     // drops because of a drop request
  uint64_t voluntary_drops = 0;  // drops to block (sleep, I/O, join...)
  uint64_t futile_wakeups = 0;   // woke up to find the GIL taken again
  uint64_t awake_takes = 0;      // waits that caught the release awake (spinning)
  double wait_time = 0;          // seconds spent waiting for the GIL
  double hold_time = 0;          // seconds holding it
  double longest_wait = 0;
  double wait_p50 = 0;  // seconds, from a log-scale histogram of waits
  double wait_p99 = 0;
};

struct ThreadStats : GilFigures {
  uint64_t id = 0;
  std::string name;
  bool alive = false;
};

// GilSite is one source line in the GIL attribution tables (runtime/blame/):
// how long threads were made to wait while a holder was there (holders), or
// waited for the GIL after blocking there (waiters).
struct GilSite {
  std::string where;     // "file.lua:12"; for a C function, the line that called it
  std::string function;  // "fib", "main chunk", "hold [C] in fib", ...
  double total = 0;      // seconds
  uint64_t count = 0;
  double longest = 0;    // seconds
};

// GilStack is one collapsed stack of the GIL profile (--gil-profile):
// "thread;function (file:line);..." and the microseconds spent there.
struct GilStack {
  std::string stack;
  uint64_t microseconds = 0;
};

struct Stats : GilFigures {
  double elapsed = 0;   // seconds since the interpreter was created
  double gil_load = 0;  // fraction of the run during which someone waited
  double switches_per_second = 0;
  std::string policy;
  std::chrono::nanoseconds switch_interval{};
  // By thread id; main is 1. Running threads and the last 100 finished ones
  // have a row each; the ones that finished before them are summed in row 0.
  std::map<uint64_t, ThreadStats> threads;
  // partial: the GIL could not be taken to read the per-thread figures (a
  // thread held it through a fatal signal): `threads` is empty, the rest is
  // the lock's own totals.
  bool partial = false;
  // Who made the others wait, and where they waited, by source line,
  // longest total first (empty when partial).
  std::vector<GilSite> holders;
  std::vector<GilSite> waiters;
  // Both as collapsed stacks; the first frame is the thread and says
  // "[held while others waited]" or "[waited for the GIL]".
  std::vector<GilStack> gil_profile;
};

// RunResult is what running a chunk produced.
struct RunResult {
  // incomplete: eval() was given the start of a statement (more lines needed)
  enum Status { ok, error, syntax_error, interrupted, incomplete };
  Status status = ok;
  std::string message;    // "file:line: message" for errors
  std::string traceback;  // "stack traceback:\n..." for runtime errors
  explicit operator bool() const { return status == ok; }
  // text() is the message followed by the traceback, if any.
  std::string text() const { return traceback.empty() ? message : message + "\n" + traceback; }
};

struct Core;  // private: runtime/core.h

class Interpreter {
 public:
  explicit Interpreter(const Options& options = Options());
  ~Interpreter();  // close()s if not already closed
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // register_function() sets global `name` to a C function.
  void register_function(const std::string& name, lua_CFunction fn);
  // set_args() sets the global `arg` table the way lua.c does: arg[0] is the
  // script, arg[1..] its arguments, arg[-1..] what preceded it. run_file()
  // passes arg[1..] as the chunk's `...`.
  void set_args(const std::vector<std::string>& argv, int script_index);

  RunResult run_file(const std::string& path);  // "-" reads stdin
  RunResult run_string(const std::string& code, const std::string& chunkname = "=(string)");
  // eval() runs one interactive line the way lua.c's prompt does: as an
  // expression whose values are printed, else as a statement.
  RunResult eval(const std::string& line);
  // require_module() runs `require(name)` and stores it in global `name`.
  RunResult require_module(const std::string& name);

  // wait_for_threads() blocks (GIL released) until every non-daemon thread
  // has finished, then reports failed threads nobody joined.
  RunResult wait_for_threads();
  // close() waits for non-daemon threads and closes the VM. Daemon threads
  // still alive are parked for good (like CPython's at finalisation).
  void close();

  Stats stats() const;
  // write_trace() writes the recorded run (Options::record_trace) as Chrome
  // Trace Event JSON (Perfetto, chrome://tracing); write_timeline() as one
  // self-contained HTML page of GIL bars. `title` heads the page.
  void write_trace(std::ostream& out) const;
  void write_timeline(std::ostream& out, const std::string& title) const;
  // write_timeline() with the summary taken from `stats` (no GIL needed:
  // for Options::on_exit).
  void write_timeline(std::ostream& out, const std::string& title, const Stats& stats) const;
  void set_switch_interval(std::chrono::nanoseconds interval);

  // with_lua() calls `fn` with the main lua_State while holding the GIL:
  // the way for a host to push values or register a library. `fn` runs as a
  // protected C function on a stack of its own: a Lua error inside it
  // (luaL_error, luaL_check*, out of memory) ends `fn` and comes back as the
  // result, with its traceback.
  RunResult with_lua(const std::function<void(lua_State*)>& fn);
  // lua() is the main thread's lua_State; only touch it inside with_lua()
  // or a host function.
  lua_State* lua() const;

 private:
  std::shared_ptr<Core> core_;
};

// wait_readable() waits, with the GIL released, until `fd` has input (or
// its end) or Ctrl-C is pressed (Options::handle_sigint), and consumes that
// Ctrl-C. Returns false if interrupted. Call it with the GIL held, on the
// thread that runs L (a host function, or inside with_lua()); green threads
// of that thread run meanwhile. Like GilReleased, it throws std::logic_error
// unless L belongs to the interpreter whose GIL the calling thread holds.
// For prompts: see the gilrun command's REPL.
bool wait_readable(lua_State* L, int fd);

// GilReleased releases the GIL held by the calling thread for its scope, like
// Py_BEGIN_ALLOW_THREADS/Py_END_ALLOW_THREADS. L is the state the host
// function was called with: it throws std::logic_error unless L belongs to
// the interpreter whose GIL the calling thread holds. Inside the scope touch
// no lua_State and raise no Lua error; do the blocking work, leave the
// scope, then push results.
class GilReleased {
 public:
  explicit GilReleased(lua_State* L);
  ~GilReleased();
  GilReleased(const GilReleased&) = delete;
  GilReleased& operator=(const GilReleased&) = delete;

 private:
  void* thread_;
};

}  // namespace gilrun
