// sigint_watcher.h — turning Ctrl-C into an "interrupted" error in the main
// thread. This file is private to the runtime.
//
// SIGINT is blocked in every thread and taken synchronously by a watcher
// thread (sigwait), which may then do what a signal handler may not: mark
// the main ThreadState interrupted, wake it if it is parked (sleep, join,
// queue get) and ask its eval breaker to stop the VM. A second Ctrl-C while
// the first is still undelivered, or while the program waits for its threads
// at exit, ends the process at once (status 130).
#pragma once

#include <memory>

namespace gilrun {

struct ThreadState;

class SigintWatcher {
 public:
  // Blocks SIGINT in the calling thread (and so in every thread it creates
  // from now on) and starts watching. `main` must outlive the watcher.
  explicit SigintWatcher(ThreadState& main);
  // ~SigintWatcher() stops watching. SIGINT stays blocked in the creating
  // thread: Ctrl-C during teardown must not kill the process half-way.
  ~SigintWatcher();

  // shutting_down() says the program is only waiting for its threads to
  // finish: from now on the next Ctrl-C exits at once.
  void shutting_down();
  SigintWatcher(const SigintWatcher&) = delete;
  SigintWatcher& operator=(const SigintWatcher&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gilrun
