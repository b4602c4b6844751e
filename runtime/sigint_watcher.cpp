#include "sigint_watcher.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "core.h"
#include "green/hub.h"
#include "thread_state.h"
#include "wait/fd_write.h"

namespace gilrun {
namespace {

constexpr int kInterruptedStatus = 130;  // 128 + SIGINT, like a shell
constexpr int kTerminatedStatus = 143;   // 128 + SIGTERM

void say(const char* message) {
  (void)!write_nosignal(STDERR_FILENO, message, std::strlen(message));
}

// GilGrab is a helper thread taking the GIL for exit_now(). It has a
// ThreadState of its own (no registry record, never attached: its breaker
// is unbound, so no drop request can reach it), and once it holds the GIL
// it keeps it until the process ends.
struct GilGrab {
  std::mutex mutex;
  std::condition_variable taken_cond;
  bool taken = false;
};

// stats_for_exit() reads the statistics for on_exit from the watcher thread.
//
// Every per-thread figure and the registry are guarded by the GIL, so the
// full Stats are read only while the GIL is held (for us, by the helper):
// the helper's take() and the hand-off through grab->mutex order every
// earlier holder's writes before our reads, which is what TSan checks. The
// wait is bounded because the reason for a second Ctrl-C is often a hang: a
// thread that holds the GIL inside a long C call (a regex-like string.find,
// a foreign library) never lets go. After kExitReportGilWait we report
// without it, reading only what has a lock of its own: the GIL's totals
// (its mutex) — Stats::partial. The trace needs no GIL at all: its buffers
// are single-writer logs published with release stores (trace_recorder.h).
Stats stats_for_exit(const std::shared_ptr<Core>& owner) {
  Core& core = *owner;
  auto grab = std::make_shared<GilGrab>();
  auto helper = std::make_shared<ThreadState>(owner, 0, "(exit report)");
  try {
    std::thread([grab, helper] {
      helper->gil().take(*helper);
      {
        std::lock_guard<std::mutex> lock(grab->mutex);
        grab->taken = true;
      }
      grab->taken_cond.notify_all();
      while (true) pause();  // hold the GIL until _exit()
    }).detach();
  } catch (const std::system_error&) {
    // No thread to spare: report without the GIL.
  }
  std::unique_lock<std::mutex> lock(grab->mutex);
  if (grab->taken_cond.wait_for(lock, kExitReportGilWait, [&] { return grab->taken; })) {
    return collect_stats(core);
  }
  Stats partial = collect_totals(core);
  partial.partial = true;
  return partial;
}

// flush_stdio() flushes stdout and stderr unless another thread is inside
// them (blocked writing to a full pipe, say): exiting must not hang there.
void flush_stdio() {
  for (FILE* f : {stdout, stderr}) {
    if (ftrylockfile(f) == 0) {
      fflush_unlocked(f);
      funlockfile(f);
    }
  }
}

}  // namespace

struct SigintWatcher::Impl {
  ThreadState& main;
  const bool sigterm;
  pthread_t thread{};
  std::atomic<bool> stopping{false};
  std::atomic<bool> shutting_down{false};

  Impl(ThreadState& m, bool term) : main(m), sigterm(term) {}

  sigset_t signals() const {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    if (sigterm) sigaddset(&set, SIGTERM);
    return set;
  }

  // exit_now() is every way out through a signal: say why, let the host
  // write what it records (Options::on_exit), then end the process.
  [[noreturn]] void exit_now(int status, const char* message) {
    say(message);
    const Options& options = main.core->options;
    if (options.on_exit) options.on_exit(status, stats_for_exit(main.core));
    flush_stdio();
    _exit(status);
  }

  static void* run(void* arg) {
    auto& self = *static_cast<Impl*>(arg);
    const sigset_t set = self.signals();
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (self.stopping.load()) return nullptr;
      // A signal handler may not lock or notify; this thread may.
      if (sig == SIGTERM) {
        self.exit_now(kTerminatedStatus, "\ngilrun: terminated (SIGTERM), exiting now\n");
      }
      if (self.shutting_down.load()) {
        self.exit_now(kInterruptedStatus,
                      "\ngilrun: interrupted while waiting for threads to finish, exiting now\n");
      }
      if (self.main.interrupt_pending.exchange(true)) {
        self.exit_now(kInterruptedStatus, "\ngilrun: interrupted again, exiting now\n");
      }
      self.main.parker.unpark();
      interrupt_hub(self.main);  // the main thread may be waiting in its hub
      self.main.breaker.request_urgent_break();
    }
  }
};

SigintWatcher::SigintWatcher(ThreadState& main, bool sigterm)
    : impl_(std::make_unique<Impl>(main, sigterm)) {
  const sigset_t set = impl_->signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  pthread_create(&impl_->thread, nullptr, Impl::run, impl_.get());
}

void SigintWatcher::shutting_down() { impl_->shutting_down.store(true); }

SigintWatcher::~SigintWatcher() {
  impl_->stopping.store(true);
  pthread_kill(impl_->thread, SIGINT);
  pthread_join(impl_->thread, nullptr);
  // The signals stay blocked: a Ctrl-C pressed while the program tears down
  // must not kill it half-way (the exit status is already decided).
}

}  // namespace gilrun
