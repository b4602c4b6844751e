// thread_registry.h — the Lua-level threads of one interpreter: their records
// and the registry that lists them (starting one: os_thread.h; the lifecycle
// they share with green threads: run_record.h). This file is private to the
// runtime.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "gil/gil.h"
#include "run_record.h"
#include "wait/wait_list.h"

struct lua_State;

namespace gilrun {

struct Core;
struct ThreadState;

// ThreadRecord is one Lua-level thread (the main thread or a spawned one),
// shared by its OS thread, its Lua handles and the registry: a RunRecord
// (run_record.h: done, failed, joined, the error, the joiners, the anchor)
// and what only OS threads have. Fields other than the constants are guarded
// by the GIL.
struct ThreadRecord : RunRecord {
  ThreadRecord(uint64_t id_, std::string name_, bool daemon_)
      : RunRecord(Kind::os_thread, id_, std::move(name_)), daemon(daemon_) {}
  const bool daemon;

  ThreadState* state = nullptr;  // while the OS thread runs
  GilCounters final_counters;    // copied when the thread ends
  // The isolated policy: the thread ran in a VM of its own; its results
  // come back encoded (value_codec.h) and are decoded by each join().
  bool isolated = false;
  std::string encoded_results;
};

// ThreadRegistry lists the threads of one interpreter: every running one,
// the most recent finished ones (kFinishedKept, for per-thread statistics),
// and the rest folded into one row of totals, so that a program that starts
// a thread per request runs in flat memory. Guarded by the GIL.
class ThreadRegistry {
 public:
  static constexpr size_t kFinishedKept = 100;

  std::shared_ptr<ThreadRecord> add(std::string name, bool daemon);
  // finished() moves `record`, which end_run() has ended, to the finished
  // threads and wakes those waiting for threads to exit.
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

  // report_unjoined_failures() reports, once each, the tracebacks of the
  // finished threads that failed and that no joiner received
  // (report_unjoined_failure, run_record.h).
  void report_unjoined_failures(const Core& core);

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

}  // namespace gilrun
