// pthread_twin.cpp — the floor under gilrun's OS-thread experiments: the same
// workloads as scripts/bench/threads.lua, in raw pthreads with no VM and no
// GIL, so that run.sh can print gilrun's time as a ratio of it measured in
// the same run (issue 16, goal 1).
//
//   pthread_twin sleepers N SECONDS   N threads each sleep SECONDS; spawn all, join all
//                                     ("spawn": when the spawn loop ended)
//   pthread_twin alive N SECONDS      N threads each start, then sleep SECONDS: the time
//                                     until all N are alive (spawn) and until all ended
//
// Prints one machine-readable line, the same as threads.lua:
//   mode=<m> n=<N> spawn=<s> wall=<s>
// Threads get the same stack size gilrun's do (GILRUN_THREAD_STACK, bytes;
// default: the system's default), so the comparison is like for like.
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  double seconds = 0;
  std::mutex mutex;
  std::condition_variable all_started;
  int started = 0;
  int wanted = 0;
};

void* sleeper(void* arg) {
  auto* shared = static_cast<Shared*>(arg);
  {
    std::lock_guard<std::mutex> lock(shared->mutex);
    if (++shared->started == shared->wanted) shared->all_started.notify_one();
  }
  timespec ts;
  ts.tv_sec = static_cast<time_t>(shared->seconds);
  ts.tv_nsec = static_cast<long>((shared->seconds - static_cast<double>(ts.tv_sec)) * 1e9);
  while (nanosleep(&ts, &ts) != 0) {
  }
  return nullptr;
}

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || (std::strcmp(argv[1], "sleepers") != 0 && std::strcmp(argv[1], "alive") != 0)) {
    std::fprintf(stderr, "usage: pthread_twin sleepers|alive N SECONDS\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int n = std::atoi(argv[2]);
  Shared shared;
  shared.seconds = std::atof(argv[3]);
  shared.wanted = n;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (const char* stack = std::getenv("GILRUN_THREAD_STACK")) {
    pthread_attr_setstacksize(&attr, static_cast<size_t>(std::atoll(stack)));
  }
  std::vector<pthread_t> threads(static_cast<size_t>(n));
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    const int rc = pthread_create(&threads[static_cast<size_t>(i)], &attr, sleeper, &shared);
    if (rc != 0) {
      std::fprintf(stderr, "pthread_twin: thread %d: %s\n", i, std::strerror(rc));
      return 1;
    }
  }
  if (mode == "alive") {
    std::unique_lock<std::mutex> lock(shared.mutex);
    shared.all_started.wait(lock, [&] { return shared.started == n; });
  }
  const double spawn = since(t0);
  for (pthread_t t : threads) pthread_join(t, nullptr);
  std::printf("mode=%s n=%d spawn=%.4f wall=%.4f\n", mode.c_str(), n, spawn, since(t0));
  pthread_attr_destroy(&attr);
  return 0;
}
