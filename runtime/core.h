// core.h — Core: the parts of one interpreter, wired together. This file is
// private to the runtime.
//
// Core holds the GIL, the VM and the thread registry and does no work of its
// own. It is shared (shared_ptr) by the public Interpreter and every
// ThreadState, so that daemon threads parked at shutdown never see the GIL
// destroyed under them. Any lua_State of the VM finds its Core through the
// state's extra space (core_of).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "blame/gil_blame.h"
#include "green/block_monitor.h"
#include "monitor/publisher.h"
#include "gil/gil.h"
#include "gilrun/gilrun.h"
#include "sigint_watcher.h"
#include "thread_registry.h"
#include "thread_state.h"
#include "trace/trace_recorder.h"

struct lua_State;

namespace gilrun {

struct Core {
  explicit Core(const Options& opts);

  const Options options;
  const GilSettings gil_settings;
  const std::size_t green_stack;  // options.green_stack_size, resolved (fiber.h)
  const Clock::time_point started = Clock::now();
  std::unique_ptr<TraceRecorder> trace;  // when options.record_trace
  // The monitor page (Options::publish_gil): outlives the gil that writes it.
  std::unique_ptr<monitor::Publisher> publisher;
  std::unique_ptr<Gil> gil;
  GilBlame blame;  // GIL waiting by source line (GIL-guarded)
  ThreadRegistry threads;
  lua_State* L = nullptr;                   // the main lua_State
  std::unique_ptr<ThreadState> main;         // the interpreter's main thread
  std::unique_ptr<SigintWatcher> sigint;     // when options.handle_sigint
  std::unique_ptr<BlockMonitor> block_monitor;  // when options.green_block_warn
  std::vector<std::string> script_args;      // the script's `...`
  bool closed = false;
  bool exit_interrupted = false;  // Ctrl-C ended the wait for threads at exit
};

// collect_stats() reads the GIL counters of every thread. GIL held.
Stats collect_stats(Core& core);

// gil_settings_from() validates the policy fields of `options`; throws
// std::invalid_argument naming the bad one.
GilSettings gil_settings_from(const Options& options);

// core_of() finds the Core that owns L (any state of the VM).
Core& core_of(lua_State* L);
void set_core(lua_State* L, Core* core);

}  // namespace gilrun
