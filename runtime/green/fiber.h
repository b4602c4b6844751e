// fiber.h — Fiber: a function running on a stack of its own, that the
// thread switches into and out of. This file is private to the runtime.
//
// A Fiber is asymmetric: resume() runs it until it calls suspend() (or its
// body returns), and control comes back to whoever called resume(). The hub
// (hub.h) is the only resumer of green threads, so every switch is
// hub -> fiber -> hub.
//
// Stacks. Every fiber stack is a fixed slot of one size (the interpreter's
// Options::green_stack_size, 256 KiB by default), cut from large
// MAP_NORESERVE mappings (fiber.cpp) and recycled through a free list that
// lives outside the stacks: a fiber that runs a little Lua and parks touches
// only the top page of its slot, and a recycled slot is already faulted in
// (a fiber starts on a recycled slot when there is one).
// The lowest page of every slot is a guard page, installed with
// madvise(MADV_GUARD_INSTALL) (Linux >= 6.13), which costs no VMA: a guard
// page per slot made with mprotect() would split the mapping, and
// vm.max_map_count (65530) would then cap green threads at ~32K. Running into
// a guard page ends the process with a message saying so (fiber.cpp's
// SIGSEGV handler, on an alternate signal stack), never silently corrupts
// the neighbouring slot. On older kernels there are no guard pages and the
// default slot is 1 MiB, as before guards existed.
//
// Why the slot size matters: one page-table page (4 KiB) maps 2 MiB, so each
// parked fiber costs slot/512 of page tables (VmPTE) besides its touched
// stack page: 2 KiB at 1 MiB, 512 bytes at 256 KiB. With a million green
// threads that is 2 GB against 0.5 GB, and each of those page-table pages is
// a first-touch page fault (~5 us on these VMs). Measured: 1M sleepers
// (bench/green_sleepers.sh) — see the README's table.
//
// What keeps Lua code inside a smaller slot is Lua's own C-call limit:
// Fiber::c_levels() says how many nested C calls (pcall, metamethods, gsub
// callbacks, the parser's nesting...) fit the slot at kBytesPerCLevel each
// (200 nested string.gsub callbacks touched ~570 KiB: a luaL_Buffer and a
// MatchState per level), and green_thread.cpp starts each green thread's
// count that much below LUAI_MAXCCALLS, so deep C recursion in Lua is the
// ordinary catchable "C stack overflow" error. Deep recursion inside a host
// C function of its own hits the guard page.
//
// Sanitizers: this is the only file that includes boost/context (fiber.cpp),
// and the only place that switches stacks, so it tells TSan
// (__tsan_switch_to_fiber) and ASan (__sanitizer_start/finish_switch_fiber)
// about every switch.
#pragma once

#include <cstddef>

namespace gilrun {

// Stack slot sizes (bytes, guard page included). A requested size is rounded
// up to whole pages; sizes outside [kMinFiberStack, kMaxFiberStack] are
// refused (Interpreter's constructor throws std::invalid_argument).
constexpr std::size_t kDefaultFiberStack = 256 * 1024;
constexpr std::size_t kDefaultFiberStackNoGuard = 1024 * 1024;
constexpr std::size_t kMinFiberStack = 64 * 1024;
constexpr std::size_t kMaxFiberStack = 256 * 1024 * 1024;
// Lua 5.4's LUAI_MAXCCALLS (llimits.h, not a public header): nested C calls
// before "C stack overflow".
constexpr int kLuaMaxCCalls = 200;
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kBytesPerCLevel = 8 * 1024;  // ASan's redzones
#else
constexpr std::size_t kBytesPerCLevel = 3 * 1024;
#endif

class Fiber {
 public:
  using Body = void (*)(void* arg);

  // The body runs at the first resume(); it must not let a C++ exception or
  // a Lua error escape (neither may unwind across a fiber boundary).
  // stack_size: a slot size from Fiber::stack_size() (0: the default).
  Fiber(Body body, void* arg, std::size_t stack_size = 0);
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
  // restart() makes a finished fiber new again, to run its body afresh on
  // a slot taken now (a warm one, from the thread's cache, when there is
  // one): a green thread parked without its stack gets one back this way
  // (green_thread.h). False if no slot can be had; the fiber then stays
  // unstarted and stackless, and must not be resumed.
  bool restart();
  // resume() switches into the fiber; returns when it suspends or ends.
  // Resuming a finished fiber does nothing; the first resume of one that
  // was not prepared prepares it, and aborts if that fails.
  void resume();
  // suspend() is called on the fiber itself: back to resume()'s caller.
  void suspend();
  bool finished() const { return finished_; }
  std::size_t stack_size() const { return size_; }

  // Stack slots mapped so far (all threads, all sizes) and slots in use,
  // for tests.
  static std::size_t stacks_mapped();
  static std::size_t stacks_in_use();

  // guard_pages() tells whether slots get a guard page (the kernel has
  // MADV_GUARD_INSTALL); asked once, then remembered.
  static bool guard_pages();
  // stack_size() turns a requested slot size (0: the default) into the one
  // used: whole pages. 0 if it is out of range.
  static std::size_t stack_size(std::size_t requested);
  // c_levels() is how many nested C calls Lua may make on a slot of `size`
  // bytes (at most kLuaMaxCCalls - 1).
  static int c_levels(std::size_t size);

 private:
  struct Entry;  // the boost side of the first switch (fiber.cpp)
  void release_stack();
  // take_warm_slot() trades the slot held for a warm one from the thread's
  // cache, if it has one (fiber.cpp's ThreadCache), before the first switch.
  void take_warm_slot();

  alignas(void*) unsigned char context_[sizeof(void*)];  // boost::context::fiber
  alignas(void*) unsigned char resumer_[sizeof(void*)];  // the hub, while inside
  Body body_;
  void* arg_;
  std::size_t size_;       // the slot's size, guard page included
  char* stack_ = nullptr;  // lowest address of the slot; null before prepare()
                           // and once the body has returned
  bool started_ = false;   // the Boost context exists (first resume() ran): a
                           // prepared fiber may be destroyed unstarted
  bool finished_ = false;
  bool warm_slot_ = false;  // stack_ came from the thread's warm slots
#if defined(GILRUN_TSAN_BUILD) || defined(__SANITIZE_ADDRESS__)
  // Sanitizer bookkeeping (not in plain builds: 40 bytes per green thread).
  void* tsan_fiber_ = nullptr;
  void* tsan_resumer_ = nullptr;
  void* asan_fake_stack_ = nullptr;
  const void* resumer_stack_ = nullptr;
  std::size_t resumer_stack_size_ = 0;
#endif
};

}  // namespace gilrun
