#include "wait/parker.h"

#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace gilrun {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

void yield_cpu() { sched_yield(); }

bool Parker::park(const Deadline& deadline, Clock::duration spin) {
  const auto granted = [this] { return permit_.exchange(false); };
  if (spin_wait(spin, deadline, [this] { return permit_.load(std::memory_order_relaxed); }) &&
      granted()) {
    return true;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  // sleeping_ before the permit is looked at, both seq_cst: an unpark()
  // either sees sleeping_ (and notifies under the mutex) or its permit is
  // seen here.
  sleeping_.store(true);
  bool got = granted();
  if (!got) {
    const auto woken = [&] { return got = granted(); };
    if (deadline) {
      cond_.wait_until(lock, *deadline, woken);
    } else {
      cond_.wait(lock, woken);
    }
  }
  sleeping_.store(false, std::memory_order_relaxed);
  return got;
}

void Parker::unpark() {
  permit_.store(true);
  if (!sleeping_.load()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  cond_.notify_one();
}

}  // namespace gilrun
