// fiber.cpp — see fiber.h. Two things live here: the stack pool, and the
// switches with their sanitizer annotations.
//
// The stack pool. There is one pool per slot size (an interpreter's
// Options::green_stack_size; usually one size per process). Slots are carved,
// in order, out of chunks of kSlotsPerChunk slots, each chunk one
// mmap(MAP_NORESERVE) with transparent
// huge pages off (a huge page would make the one page a parked fiber touches
// cost 2 MiB). Freed slots go on a free list kept in ordinary heap memory —
// never inside the stacks, so a free slot stays untouched (Boost's
// pooled_fixedsize_stack writes its link at the low end of each stack, which
// faults in a second page per fiber). Each OS thread keeps a small cache of
// free slots and only takes the pool's mutex to refill it or give slots
// back, so create+destroy stays a few tens of nanoseconds. The pages a slot
// once used stay mapped when it is recycled: the next fiber on it pays no
// page faults (a first touch costs ~5 us on these VMs). Mappings are never
// returned to the system. A slot's guard page (its lowest page) is installed
// when the slot is carved; guard markers live in the page tables, so the
// mapping stays one VMA.
//
// Stack overflow. A fiber that runs into its guard page faults with its stack
// exhausted, so the SIGSEGV handler runs on an alternate signal stack (one
// per OS thread that runs fibers, made at its first fiber's first resume,
// unless the thread has one, as under ASan). The handler looks the fault
// address up in a fixed table of chunks (lock-free: it may run at any
// moment) and, for a guard page, writes what happened and aborts; any other
// SIGSEGV goes to the handler that was there before.
//
// The switches. fiber.h's notes say who switches to whom; here each switch
// is bracketed for the sanitizers. ASan: __sanitizer_start_switch_fiber
// before a jump names the stack we go to (null fake-stack slot on the last
// jump out of a finishing fiber), __sanitizer_finish_switch_fiber after we
// land. TSan: __tsan_switch_to_fiber right before each jump. In the TSan
// build this file is compiled without instrumentation (runtime/CMakeLists.txt)
// because Boost's entry code does not follow a call stack's rules: its first
// jump, made while the boost fiber is constructed, enters fiber_entry on the
// new stack and jumps straight back, and a finished fiber leaves through
// fiber_record::run on the resumer's shadow stack. Instrumented, those
// function entries and exits land on the wrong fiber's shadow call stack,
// which TSan does not bounds-check. Uninstrumented, the only TSan events
// here are the annotations; the green thread's body (green_thread.cpp) is
// instrumented and balanced on its own fiber.
#include "green/fiber.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/context/fiber.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13; glibc's headers may predate it
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#if defined(__SANITIZE_ADDRESS__)
#define GILRUN_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GILRUN_TSAN_BUILD)  // this file is compiled uninstrumented then
#define GILRUN_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

namespace gilrun {
namespace ctx = boost::context;

namespace {

constexpr std::size_t kSlotsPerChunk = 4096;
constexpr std::size_t kThreadCache = 256;  // free slots an OS thread keeps per size
constexpr std::size_t kPage = 4096;
constexpr int kPidfdSelf = -10001;  // PIDFD_SELF (Linux 6.14): this process

// --- guard pages and the overflow handler ----------------------------------

// Chunks, for the signal handler: written under the pools' mutex, read
// without any lock (entries are published by the count, release/acquire).
constexpr std::size_t kMaxChunks = 1 << 14;
struct ChunkEntry {
  std::atomic<uintptr_t> base{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<uintptr_t> slot{0};
};
ChunkEntry chunk_table[kMaxChunks];
std::atomic<std::size_t> chunk_count{0};
struct sigaction previous_segv;

// Async-signal-safe output: a string, and a number in decimal.
void say(const char* s) {
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  while (n > 0) {
    const ssize_t w = write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}
void say_number(std::size_t v) {
  char buf[24];
  int i = sizeof buf - 1;
  buf[i] = '\0';
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && i > 0);
  say(buf + i);
}

void on_segv(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  const std::size_t n = chunk_count.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    const uintptr_t base = chunk_table[i].base.load(std::memory_order_relaxed);
    if (addr < base || addr >= chunk_table[i].end.load(std::memory_order_relaxed)) continue;
    const uintptr_t slot = chunk_table[i].slot.load(std::memory_order_relaxed);
    if ((addr - base) % slot >= kPage) break;  // inside a stack, not a guard page
    say("gilrun: a green thread overflowed its ");
    say_number(slot / 1024);
    say(" KiB stack (deep recursion in C code that Lua's C-call limit does not see); "
        "give green threads a bigger stack (gilrun::Options::green_stack_size)\n");
    signal(SIGABRT, SIG_DFL);
    abort();
  }
  // Not ours: the previous handler, or the default action on return.
  if (previous_segv.sa_flags & SA_SIGINFO) {
    if (previous_segv.sa_sigaction != nullptr) {
      previous_segv.sa_sigaction(sig, info, context);
      return;
    }
  } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
    return;
  }
  signal(SIGSEGV, SIG_DFL);  // the faulting instruction runs again and dies
}

void install_segv_handler() {
  struct sigaction sa {};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
}

// The calling thread's alternate signal stack, made for its first fiber
// unless the thread already has one; removed when the thread ends.
struct AltStack {
  void* mem = nullptr;
  std::size_t size = 0;
  void ensure() {
    if (mem != nullptr) return;
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) {
      mem = MAP_FAILED;  // someone else's: leave it
      return;
    }
    size = 64 * 1024;
    mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;  // no handler on overflow: the default crash
    stack_t ss{};
    ss.ss_sp = mem;
    ss.ss_size = size;
    if (sigaltstack(&ss, nullptr) != 0) {
      munmap(mem, size);
      mem = MAP_FAILED;
    }
  }
  ~AltStack() {
    if (mem == nullptr || mem == MAP_FAILED) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    munmap(mem, size);
  }
};
thread_local AltStack tls_altstack;

// 1: the kernel installs guard pages; 0: it does not; -1: not asked yet.
std::atomic<int> guards_supported{-1};

bool probe_guards() {
  int known = guards_supported.load(std::memory_order_acquire);
  if (known >= 0) return known == 1;
  void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  bool ok = false;
  if (p != MAP_FAILED) {
    ok = madvise(p, kPage, MADV_GUARD_INSTALL) == 0;
    munmap(p, 2 * kPage);
  }
  guards_supported.store(ok ? 1 : 0, std::memory_order_release);
  return ok;
}

// --- the pools -------------------------------------------------------------

class StackPool {
 public:
  explicit StackPool(std::size_t slot) : slot_(slot) {}

  char* take(std::vector<char*>& cache) {
    if (!cache.empty()) {
      char* slot = cache.back();
      cache.pop_back();
      return slot;
    }
    std::lock_guard<std::mutex> lock(mutex());
    if (!free_.empty()) {
      char* slot = free_.back();
      free_.pop_back();
      return slot;
    }
    if (next_ == end_) map_chunk();  // may throw std::bad_alloc
    if (guards_ && next_ == guarded_) guard_more();  // may throw std::bad_alloc
    char* slot = next_;
    next_ += slot_;
    ++mapped_;
    return slot;
  }

  // give() returns a slot to the calling thread's cache, spilling half of
  // the cache to the shared list when it is full.
  void give(std::vector<char*>& cache, char* slot) {
    cache.push_back(slot);
    if (cache.size() < kThreadCache) return;
    std::lock_guard<std::mutex> lock(mutex());
    const std::size_t keep = kThreadCache / 2;
    free_.insert(free_.end(), cache.begin() + keep, cache.end());
    cache.resize(keep);
  }

  void give_all(std::vector<char*>& cache) {
    std::lock_guard<std::mutex> lock(mutex());
    free_.insert(free_.end(), cache.begin(), cache.end());
    cache.clear();
  }

  // The pool for slots of `size` bytes (made on first use, never destroyed:
  // stacks outlive statics).
  static StackPool& of_size(std::size_t size) {
    std::lock_guard<std::mutex> lock(mutex());
    auto& pools = all();
    for (StackPool* p : pools)
      if (p->slot_ == size) return *p;
    pools.push_back(new StackPool(size));
    return *pools.back();
  }
  // Totals over every pool.
  static std::size_t mapped_total() {
    std::lock_guard<std::mutex> lock(mutex());
    std::size_t n = 0;
    for (StackPool* p : all()) n += p->mapped_;
    return n;
  }

  std::size_t slot_size() const { return slot_; }

 private:
  // One mutex for all pools: it is taken once per kThreadCache / 2 slots.
  static std::mutex& mutex() {
    static auto* m = new std::mutex;
    return *m;
  }
  static std::vector<StackPool*>& all() {
    static auto* pools = new std::vector<StackPool*>;
    return *pools;
  }

  void map_chunk() {
    const std::size_t bytes = kSlotsPerChunk * slot_;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    madvise(p, bytes, MADV_NOHUGEPAGE);
    next_ = static_cast<char*>(p);
    guarded_ = next_;
    end_ = next_ + bytes;
    guards_ = probe_guards();
    if (!guards_) return;
    static std::once_flag handler_once;
    std::call_once(handler_once, install_segv_handler);
    const std::size_t i = chunk_count.load(std::memory_order_relaxed);
    if (i == kMaxChunks) return;  // overflow past here is still stopped, unexplained
    chunk_table[i].base.store(reinterpret_cast<uintptr_t>(next_), std::memory_order_relaxed);
    chunk_table[i].end.store(reinterpret_cast<uintptr_t>(end_), std::memory_order_relaxed);
    chunk_table[i].slot.store(slot_, std::memory_order_relaxed);
    chunk_count.store(i + 1, std::memory_order_release);
  }

  // guard_more() installs the guard pages of the next kGuardBatch slots (or
  // up to the chunk's end) in one process_madvise() call: half the cost of a
  // madvise() per slot (0.57 against 1.15 us a slot, measured for 1M slots),
  // which was 15% of spawning 100K green threads. One madvise() per slot
  // where the kernel refuses the batch.
  void guard_more() {
    constexpr std::size_t kGuardBatch = 64;
    iovec pages[kGuardBatch];
    std::size_t n = 0;
    for (char* p = guarded_; n < kGuardBatch && p != end_; p += slot_) {
      pages[n].iov_base = p;
      pages[n++].iov_len = kPage;
    }
    const long done = syscall(SYS_process_madvise, kPidfdSelf, pages, n, MADV_GUARD_INSTALL, 0);
    if (done != static_cast<long>(n * kPage)) {
      for (std::size_t i = 0; i < n; ++i)
        if (madvise(pages[i].iov_base, kPage, MADV_GUARD_INSTALL) != 0) throw std::bad_alloc();
    }
    guarded_ += n * slot_;
  }

  const std::size_t slot_;
  std::vector<char*> free_;
  char* guarded_ = nullptr;  // slots below this (in the current chunk) have their guard
  char* next_ = nullptr;
  char* end_ = nullptr;
  bool guards_ = false;
  std::size_t mapped_ = 0;
};

// Slots held by fibers right now, all threads and sizes. Counted where a
// fiber takes and gives back its slot, not from the pools' side: a slot in
// a thread's cache is free, and a thread's cache is only handed back when
// the thread ends — after its joiners have woken, so counting cached slots
// as held made a finished thread's stacks look parked for a moment.
std::atomic<std::size_t> stacks_held{0};

// The calling thread's caches of free slots, one pair per slot size in
// use; given back when the thread ends. A slot is warm once a fiber has run
// on it (its top pages are faulted in) and cold if none has (a spawned green
// thread's slot, until it first runs). Slots are taken warm first, and a
// fiber about to start swaps a cold slot for a warm one (Fiber::resume):
// green threads that park without their stack (green_thread.h) then all
// run on the few warm slots, and the slots their spawns took stay
// untouched. Both lists are LIFO, so the slot given back last — the one
// whose pages were touched last — is the next one used.
struct ThreadCache {
  struct Slots {
    StackPool* pool;
    std::vector<char*> warm;
    std::vector<char*> cold;
  };
  std::vector<Slots> by_pool;
  // of() is this thread's cache for slots of `size` bytes, and its pool
  // (found without the pools' mutex once the thread has used the size).
  Slots& of(std::size_t size) {
    for (auto& entry : by_pool)
      if (entry.pool->slot_size() == size) return entry;
    by_pool.push_back(Slots{&StackPool::of_size(size), {}, {}});
    return by_pool.back();
  }
  ~ThreadCache() {
    for (auto& entry : by_pool) {
      entry.pool->give_all(entry.warm);
      entry.pool->give_all(entry.cold);
    }
  }
};
thread_local ThreadCache tls_cache;

// SlotAllocator hands Boost the slot the Fiber already owns, above its
// guard page.
struct SlotAllocator {
  char* slot;
  std::size_t size;
  ctx::stack_context allocate() {
    ctx::stack_context sc;
    sc.size = size - kPage;
    sc.sp = slot + size;
    return sc;
  }
  void deallocate(ctx::stack_context&) noexcept {}  // the Fiber gives the slot back
};

ctx::fiber& as_fiber(unsigned char* storage) {
  return *std::launder(reinterpret_cast<ctx::fiber*>(storage));
}

static_assert(sizeof(ctx::fiber) == sizeof(void*), "boost fiber is one pointer");

}  // namespace

// Entry is the function Boost runs on the new stack.
struct Fiber::Entry {
  Fiber* self;
  ctx::fiber operator()(ctx::fiber&& resumer) {
    Fiber& f = *self;
#ifdef GILRUN_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &f.resumer_stack_, &f.resumer_stack_size_);
#endif
    new (f.resumer_) ctx::fiber(std::move(resumer));
    f.body_(f.arg_);
    f.finished_ = true;
    ctx::fiber back = std::move(as_fiber(f.resumer_));
    as_fiber(f.resumer_).~fiber();
#ifdef GILRUN_ASAN
    __sanitizer_start_switch_fiber(nullptr, f.resumer_stack_, f.resumer_stack_size_);
#endif
#ifdef GILRUN_TSAN
    __tsan_switch_to_fiber(f.tsan_resumer_, 0);
#endif
    return back;
  }
};

Fiber::Fiber(Body body, void* arg, std::size_t stack_size)
    : body_(body), arg_(arg), size_(stack_size != 0 ? stack_size : Fiber::stack_size(0)) {}

bool Fiber::guard_pages() { return probe_guards(); }

std::size_t Fiber::stack_size(std::size_t requested) {
  if (requested == 0) return guard_pages() ? kDefaultFiberStack : kDefaultFiberStackNoGuard;
  if (requested < kMinFiberStack || requested > kMaxFiberStack) return 0;
  return (requested + kPage - 1) / kPage * kPage;
}

int Fiber::c_levels(std::size_t size) {
  // What the first frames (the fiber's entry, the green thread's body, its
  // protected call) and an error's traceback at the deepest level need.
  constexpr std::size_t kReserve = 32 * 1024;
  const std::size_t usable = size > kPage + kReserve ? size - kPage - kReserve : 0;
  // Lua lets error handling run 10% past LUAI_MAXCCALLS.
  const std::size_t levels = usable / (kBytesPerCLevel + kBytesPerCLevel / 10);
  return static_cast<int>(std::min<std::size_t>(levels, kLuaMaxCCalls - 1));
}

Fiber::~Fiber() { release_stack(); }

void Fiber::release_stack() {
  if (stack_ == nullptr) return;
  if (started_) {
    as_fiber(context_).~fiber();  // empty once the body has returned
#ifdef GILRUN_TSAN
    __tsan_destroy_fiber(tsan_fiber_);
    tsan_fiber_ = nullptr;
#endif
  }
  auto& slots = tls_cache.of(size_);
  slots.pool->give(started_ ? slots.warm : slots.cold, stack_);
  stack_ = nullptr;
  stacks_held.fetch_sub(1, std::memory_order_relaxed);
}

bool Fiber::prepare() {
  if (stack_ != nullptr || finished_) return true;
  try {
    auto& slots = tls_cache.of(size_);
    warm_slot_ = !slots.warm.empty();
    stack_ = slots.pool->take(warm_slot_ ? slots.warm : slots.cold);
    stacks_held.fetch_add(1, std::memory_order_relaxed);
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

void Fiber::take_warm_slot() {
  if (warm_slot_) return;
  auto& slots = tls_cache.of(size_);
  if (slots.warm.empty()) return;
  char* warm = slots.warm.back();
  slots.warm.pop_back();
  slots.pool->give(slots.cold, stack_);
  stack_ = warm;
  warm_slot_ = true;
}

bool Fiber::restart() {
  // release_stack() ran when the body returned: no Boost or TSan context
  // is left, only the flags say it ran.
  started_ = false;
  finished_ = false;
  return prepare();
}

void Fiber::resume() {
  if (finished_) return;
  if (!started_) {  // the first resume: the Boost context is made only now
    if (!prepare()) {
      // Last words before an abort, so stderr rather than Options::report
      // (report.h): a fiber knows its stack, not its interpreter. Green
      // threads never get here: spawn_green calls prepare() and makes its
      // failure a Lua error; only a fiber resumed unprepared can.
      std::fputs("gilrun: out of memory for a fiber stack\n", stderr);
      std::abort();
    }
    take_warm_slot();
    tls_altstack.ensure();
    new (context_) ctx::fiber(std::allocator_arg, SlotAllocator{stack_, size_}, Entry{this});
#ifdef GILRUN_TSAN
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
    started_ = true;
  }
#ifdef GILRUN_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, stack_ + kPage, size_ - kPage);
#endif
#ifdef GILRUN_TSAN
  tsan_resumer_ = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
  ctx::fiber& f = as_fiber(context_);
  f = std::move(f).resume();
#ifdef GILRUN_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  if (finished_) release_stack();  // warm, for the next fiber this thread starts
}

void Fiber::suspend() {
#ifdef GILRUN_ASAN
  __sanitizer_start_switch_fiber(&asan_fake_stack_, resumer_stack_, resumer_stack_size_);
#endif
#ifdef GILRUN_TSAN
  __tsan_switch_to_fiber(tsan_resumer_, 0);
#endif
  ctx::fiber& hub = as_fiber(resumer_);
  hub = std::move(hub).resume();
#ifdef GILRUN_ASAN
  __sanitizer_finish_switch_fiber(asan_fake_stack_, &resumer_stack_, &resumer_stack_size_);
#endif
}

std::size_t Fiber::stacks_mapped() { return StackPool::mapped_total(); }

std::size_t Fiber::stacks_in_use() { return stacks_held.load(std::memory_order_relaxed); }

}  // namespace gilrun
