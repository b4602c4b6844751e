#include "sigint_watcher.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "thread_state.h"

namespace gilrun {

struct SigintWatcher::Impl {
  ThreadState& main;
  sigset_t old_mask{};
  pthread_t thread{};
  std::atomic<bool> stopping{false};

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
      if (self.main.interrupt_pending.exchange(true)) {
        static const char kMessage[] = "\ngilrun: interrupted twice, exiting\n";
        (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
        _exit(130);
      }
      self.main.parker.unpark();
      self.main.breaker.request_break();
    }
  }
};

SigintWatcher::SigintWatcher(ThreadState& main) : impl_(std::make_unique<Impl>(main)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, &impl_->old_mask);
  pthread_create(&impl_->thread, nullptr, Impl::run, impl_.get());
}

SigintWatcher::~SigintWatcher() {
  impl_->stopping.store(true);
  pthread_kill(impl_->thread, SIGINT);
  pthread_join(impl_->thread, nullptr);
  pthread_sigmask(SIG_SETMASK, &impl_->old_mask, nullptr);
}

}  // namespace gilrun
