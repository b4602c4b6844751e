#include "sigint_watcher.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "green/hub.h"
#include "wait/fd_write.h"
#include "thread_state.h"

namespace gilrun {

struct SigintWatcher::Impl {
  ThreadState& main;
  pthread_t thread{};
  std::atomic<bool> stopping{false};
  std::atomic<bool> shutting_down{false};

  explicit Impl(ThreadState& m) : main(m) {}

  static void* run(void* arg) {
    auto& self = *static_cast<Impl*>(arg);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (self.stopping.load()) return nullptr;
      // A signal handler may not lock or notify; this thread may.
      if (self.shutting_down.load()) {
        static const char kMessage[] =
            "\ngilrun: interrupted while waiting for threads to finish, exiting now\n";
        (void)!write_nosignal(STDERR_FILENO, kMessage, sizeof kMessage - 1);
        _exit(130);
      }
      if (self.main.interrupt_pending.exchange(true)) {
        static const char kMessage[] = "\ngilrun: interrupted again, exiting now\n";
        (void)!write_nosignal(STDERR_FILENO, kMessage, sizeof kMessage - 1);
        _exit(130);
      }
      self.main.parker.unpark();
      interrupt_hub(self.main);  // the main thread may be waiting in its hub
      self.main.breaker.request_break();
    }
  }
};

SigintWatcher::SigintWatcher(ThreadState& main) : impl_(std::make_unique<Impl>(main)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  pthread_create(&impl_->thread, nullptr, Impl::run, impl_.get());
}

void SigintWatcher::shutting_down() { impl_->shutting_down.store(true); }

SigintWatcher::~SigintWatcher() {
  impl_->stopping.store(true);
  pthread_kill(impl_->thread, SIGINT);
  pthread_join(impl_->thread, nullptr);
  // SIGINT stays blocked: a Ctrl-C pressed while the program tears down must
  // not kill it half-way (the exit status is already decided).

}

}  // namespace gilrun
