// tsc.h — the tick clock the Gil times tenures with (gil.cpp's ticks_now),
// for readers that convert a page's ticks to seconds. Private to the runtime.
#pragma once

#include <chrono>
#include <cstdint>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace gilrun::monitor {

inline uint64_t tsc_now() {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

}  // namespace gilrun::monitor
