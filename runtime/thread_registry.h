// thread_registry.h — the Lua-level threads of one interpreter and how they
// start and end. This file is private to the runtime.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "gil/gil.h"
#include "wait/wait_list.h"

struct lua_State;

namespace gilrun {

struct Core;
struct ThreadState;

// ThreadRecord is one Lua-level thread (the main thread or a spawned one),
// shared by its OS thread, its Lua handle and the registry. Fields other than
// the constants are guarded by the GIL.
struct ThreadRecord {
  ThreadRecord(uint64_t id_, std::string name_, bool daemon_)
      : id(id_), name(std::move(name_)), daemon(daemon_) {}
  const uint64_t id;
  const std::string name;
  const bool daemon;

  ThreadState* state = nullptr;  // while the OS thread runs
  int anchor = -2;               // registry ref to its lua_State while it runs (LUA_NOREF)
  bool done = false;
  bool failed = false;
  bool joined = false;    // someone received the results or the error
  bool reported = false;  // an unjoined failure was printed
  std::string error_text; // the error with its traceback, when failed
  GilCounters final_counters;  // copied when the thread ends
  // The isolated policy: the thread ran in a VM of its own; its results
  // come back encoded (value_codec.h) and are decoded by each join().
  bool isolated = false;
  std::string encoded_results;
  WaitList joiners;
};

// ThreadRegistry lists the threads of one interpreter: every running one,
// the most recent finished ones (kFinishedKept, for per-thread statistics),
// and the rest folded into one row of totals, so that a program that starts
// a thread per request runs in flat memory. Guarded by the GIL.
class ThreadRegistry {
 public:
  static constexpr size_t kFinishedKept = 100;

  std::shared_ptr<ThreadRecord> add(std::string name, bool daemon);
  // finished() marks `record` done and wakes its joiners and exit waiters.
  void finished(ThreadRecord& record);
  // forget() drops a record whose OS thread never started.
  void forget(const ThreadRecord& record);

  int alive() const { return static_cast<int>(running_.size()); }
  int alive_non_daemon() const;
  // running() lists the threads that have not finished, the main one first.
  const std::vector<std::shared_ptr<ThreadRecord>>& running() const { return running_; }
  // recently_finished() lists the last kFinishedKept threads that finished.
  const std::deque<std::shared_ptr<ThreadRecord>>& recently_finished() const {
    return finished_;
  }
  // earlier() sums the counters of the `earlier_count()` threads that
  // finished before those.
  const GilCounters& earlier() const { return earlier_; }
  uint64_t earlier_count() const { return earlier_count_; }
  WaitList& exits() { return exits_; }

  // stack_size() is the stack new OS threads get, in bytes (0: the
  // system's default, RLIMIT_STACK: 8 MiB on Linux, as CPython keeps it).
  // thread.stack_size() changes it, as Python's threading.stack_size() does:
  // a Lua thread needs little C stack (Lua limits C calls to 200 levels,
  // and green threads run on 64 KiB fibers), so 10,000 threads can reserve
  // far less address space. Not smaller by default: under `ulimit -v`,
  // threads on 1 MiB stacks left too little room for malloc's per-thread
  // arenas, and an allocation the C++ side cannot fail (the registry's)
  // ended the process (tests/cli_test.cpp, SpawningMoreThreadsThanAllowed).
  static constexpr size_t kDefaultStackSize = 0;
  static constexpr size_t kMinStackSize = size_t{64} << 10;
  size_t stack_size() const { return stack_size_; }
  void set_stack_size(size_t bytes) { stack_size_ = bytes; }

  // report_unjoined_failures() prints, once each, the tracebacks of the
  // finished threads that failed and that no joiner received.
  void report_unjoined_failures();
  static void report_unjoined_failure(ThreadRecord& record);

 private:
  std::vector<std::shared_ptr<ThreadRecord>> running_;
  std::deque<std::shared_ptr<ThreadRecord>> finished_;
  // Failed threads folded out of finished_ whose failure may still need
  // reporting at exit (their handles may still be joined).
  std::vector<std::shared_ptr<ThreadRecord>> unreported_;
  GilCounters earlier_;
  uint64_t earlier_count_ = 0;
  uint64_t next_id_ = 1;
  WaitList exits_;
  size_t stack_size_ = kDefaultStackSize;
};

// spawn_thread() starts an OS thread that calls the function at L's stack
// index `first` with the values above it as arguments, popping them all. On
// success it pushes the thread's lua_State (its results end up on that
// stack); on failure it returns null and sets `error`.
std::shared_ptr<ThreadRecord> spawn_thread(lua_State* L, int first, std::string name,
                                           bool daemon, std::string* error);

}  // namespace gilrun
