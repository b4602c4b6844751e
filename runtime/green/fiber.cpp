// fiber.cpp — see fiber.h. Two things live here: the stack pool, and the
// switches with their sanitizer annotations.
//
// The stack pool. Slots are carved, in order, out of chunks of
// kSlotsPerChunk slots, each chunk one mmap(MAP_NORESERVE) with transparent
// huge pages off (a huge page would make the one page a parked fiber touches
// cost 2 MiB). Freed slots go on a free list kept in ordinary heap memory —
// never inside the stacks, so a free slot stays untouched (Boost's
// pooled_fixedsize_stack writes its link at the low end of each stack, which
// faults in a second page per fiber). Each OS thread keeps a small cache of
// free slots and only takes the pool's mutex to refill it or give slots
// back, so create+destroy stays a few tens of nanoseconds. The pages a slot
// once used stay mapped when it is recycled: the next fiber on it pays no
// page faults (a first touch costs ~5 us on these VMs). Mappings are never
// returned to the system.
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

#include <sys/mman.h>

#include <boost/context/fiber.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

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

constexpr std::size_t kSlotsPerChunk = 4096;  // 4 GiB of address space per chunk
constexpr std::size_t kThreadCache = 256;     // free slots an OS thread keeps

class StackPool {
 public:
  char* take(std::vector<char*>& cache) {
    if (!cache.empty()) {
      char* slot = cache.back();
      cache.pop_back();
      return slot;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      ++in_use_;
      char* slot = free_.back();
      free_.pop_back();
      return slot;
    }
    if (next_ == end_) map_chunk();  // may throw std::bad_alloc
    ++in_use_;
    char* slot = next_;
    next_ += kFiberStackSize;
    ++mapped_;
    return slot;
  }

  // give() returns a slot to the calling thread's cache, spilling half of
  // the cache to the shared list when it is full.
  void give(std::vector<char*>& cache, char* slot) {
    cache.push_back(slot);
    if (cache.size() < kThreadCache) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t keep = kThreadCache / 2;
    free_.insert(free_.end(), cache.begin() + keep, cache.end());
    in_use_ -= cache.size() - keep;
    cache.resize(keep);
  }

  void give_all(std::vector<char*>& cache) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.insert(free_.end(), cache.begin(), cache.end());
    in_use_ -= cache.size();
    cache.clear();
  }

  std::size_t mapped() {
    std::lock_guard<std::mutex> lock(mutex_);
    return mapped_;
  }
  std::size_t in_use() {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_use_;
  }
  // Slots sitting in threads' caches count as in use from the pool's view;
  // the per-thread count corrects that for the calling thread.
  static StackPool& instance() {
    static StackPool* pool = new StackPool;  // never destroyed: stacks outlive statics
    return *pool;
  }

 private:
  void map_chunk() {
    const std::size_t bytes = kSlotsPerChunk * kFiberStackSize;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    madvise(p, bytes, MADV_NOHUGEPAGE);
    next_ = static_cast<char*>(p);
    end_ = next_ + bytes;
  }

  std::mutex mutex_;
  std::vector<char*> free_;
  char* next_ = nullptr;
  char* end_ = nullptr;
  std::size_t mapped_ = 0;
  std::size_t in_use_ = 0;
};

// The calling thread's cache of free slots; given back when the thread ends.
struct ThreadCache {
  std::vector<char*> slots;
  ~ThreadCache() { StackPool::instance().give_all(slots); }
};
thread_local ThreadCache tls_cache;

// SlotAllocator hands Boost the slot the Fiber already owns.
struct SlotAllocator {
  char* slot;
  ctx::stack_context allocate() {
    ctx::stack_context sc;
    sc.size = kFiberStackSize;
    sc.sp = slot + kFiberStackSize;
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

Fiber::Fiber(Body body, void* arg) : body_(body), arg_(arg) {}

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
  StackPool::instance().give(tls_cache.slots, stack_);
  stack_ = nullptr;
}

bool Fiber::prepare() {
  if (stack_ != nullptr || finished_) return true;
  try {
    stack_ = StackPool::instance().take(tls_cache.slots);
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

void Fiber::resume() {
  if (finished_) return;
  if (!started_) {  // the first resume: the Boost context is made only now
    if (!prepare()) {
      std::fputs("gilrun: out of memory for a fiber stack\n", stderr);
      std::abort();
    }
    new (context_) ctx::fiber(std::allocator_arg, SlotAllocator{stack_}, Entry{this});
#ifdef GILRUN_TSAN
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
    started_ = true;
  }
#ifdef GILRUN_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, stack_, kFiberStackSize);
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

std::size_t Fiber::stacks_mapped() { return StackPool::instance().mapped(); }

std::size_t Fiber::stacks_in_use() {
  return StackPool::instance().in_use() - tls_cache.slots.size();
}

}  // namespace gilrun
