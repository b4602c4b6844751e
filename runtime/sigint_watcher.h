// sigint_watcher.h — Ctrl-C and SIGTERM: an "interrupted" error in the main
// thread, or the end of the process with what was recorded written out.
// This file is private to the runtime.
//
// SIGINT (and SIGTERM, when asked for) is blocked in every thread and taken
// synchronously by a watcher thread (sigwait), which may then do what a
// signal handler may not. A first Ctrl-C marks the main ThreadState
// interrupted, wakes it if it is parked (sleep, join, queue get) and asks
// its eval breaker to stop the VM. A second Ctrl-C while the first is still
// undelivered, one while the program waits for its threads at exit, and
// SIGTERM end the process: exit_now() hands the statistics to
// Options::on_exit (the gilrun command writes --stats, --trace and
// --timeline there) on this normal thread, then _exit()s with 130 or 143.
#pragma once

#include <chrono>
#include <memory>

#include "gilrun/gilrun.h"

namespace gilrun {

struct Core;
struct ThreadState;

class SigintWatcher {
 public:
  // Blocks SIGINT (and SIGTERM if `sigterm`) in the calling thread (and so
  // in every thread it creates from now on) and starts watching. `main`
  // must outlive the watcher.
  SigintWatcher(ThreadState& main, bool sigterm);
  // ~SigintWatcher() stops watching. The signals stay blocked in the
  // creating thread: Ctrl-C during teardown must not kill the process
  // half-way.
  ~SigintWatcher();

  // shutting_down() says the program is only waiting for its threads to
  // finish: from now on the next Ctrl-C exits (after on_exit).
  void shutting_down();
  SigintWatcher(const SigintWatcher&) = delete;
  SigintWatcher& operator=(const SigintWatcher&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How long exit_now() waits for the GIL before it reports without it.
constexpr std::chrono::seconds kExitReportGilWait{1};

// collect_totals() is collect_stats() without the per-thread rows: the
// lock-wide figures, which the Gil's own mutex guards, so it needs no GIL
// (interpreter.cpp).
Stats collect_totals(Core& core);

}  // namespace gilrun
