// fiber.h — Fiber: a function running on a stack of its own, that the
// thread switches into and out of. This file is private to the runtime.
//
// A Fiber is asymmetric: resume() runs it until it calls suspend() (or its
// body returns), and control comes back to whoever called resume(). The hub
// (hub.h) is the only resumer of green threads, so every switch is
// hub -> fiber -> hub.
//
// Stacks. Every fiber stack is a fixed slot of kFiberStackSize bytes, cut
// from large MAP_NORESERVE mappings (fiber.cpp) and recycled through a free
// list that lives outside the stacks: a fiber that runs a little Lua and
// parks touches only the top page of its slot, and a recycled slot is
// already faulted in. There are no guard pages between slots (a guard page
// per slot costs a VMA each, and vm.max_map_count is 65530), so what keeps
// a fiber inside its slot is Lua's own limit on C recursion (LUAI_MAXCCALLS:
// 200 nested C calls, then "C stack overflow"). Measured at that limit
// (tests/lua_green_test.cpp's DeepCRecursion cases, touched pages read from
// /proc/self/smaps): 200 nested pcalls use 204 KiB, 200 nested string.gsub
// callbacks (a luaL_Buffer and a MatchState per level) ~570 KiB, a little
// more under ASan. Hence 1 MiB. A big slot costs address space (free with
// MAP_NORESERVE) and page tables: one 4 KiB page-table page maps 2 MiB, so
// each parked fiber adds 2 KiB of page table (VmPTE, not RSS) besides its
// 4 KiB stack page. Deep recursion in a host C function of its own, on a
// green thread, is not protected.
//
// Sanitizers: this is the only file that includes boost/context (fiber.cpp),
// and the only place that switches stacks, so it tells TSan
// (__tsan_switch_to_fiber) and ASan (__sanitizer_start/finish_switch_fiber)
// about every switch.
#pragma once

#include <cstddef>

namespace gilrun {

constexpr std::size_t kFiberStackSize = 1024 * 1024;

class Fiber {
 public:
  using Body = void (*)(void* arg);

  // The body runs at the first resume(); it must not let a C++ exception or
  // a Lua error escape (neither may unwind across a fiber boundary).
  Fiber(Body body, void* arg);
  // A fiber must have finished (or never started) when destroyed. Its stack
  // goes back to the pool as soon as its body returns, not when the Fiber
  // is destroyed: a finished green thread whose handle lives on holds none.
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // prepare() takes the fiber's stack slot now rather than at the first
  // resume(), so that running out of memory is the spawner's error. False
  // if no slot can be had (the mapping failed: ulimit -v, overcommit).
  bool prepare();
  // resume() switches into the fiber; returns when it suspends or ends.
  // Resuming a finished fiber does nothing; the first resume of one that
  // was not prepared prepares it, and aborts if that fails.
  void resume();
  // suspend() is called on the fiber itself: back to resume()'s caller.
  void suspend();
  bool finished() const { return finished_; }

  // Stack slots mapped so far (all threads) and slots in use, for tests.
  static std::size_t stacks_mapped();
  static std::size_t stacks_in_use();

 private:
  struct Entry;  // the boost side of the first switch (fiber.cpp)
  void release_stack();

  alignas(void*) unsigned char context_[sizeof(void*)];  // boost::context::fiber
  alignas(void*) unsigned char resumer_[sizeof(void*)];  // the hub, while inside
  Body body_;
  void* arg_;
  char* stack_ = nullptr;  // lowest address of the slot; null before prepare()
                           // and once the body has returned
  bool started_ = false;   // the Boost context exists (first resume() ran): a
                           // prepared fiber may be destroyed unstarted
  bool finished_ = false;
  // Sanitizer bookkeeping (unused in plain builds).
  void* tsan_fiber_ = nullptr;
  void* tsan_resumer_ = nullptr;
  void* asan_fake_stack_ = nullptr;
  const void* resumer_stack_ = nullptr;
  std::size_t resumer_stack_size_ = 0;
};

}  // namespace gilrun
