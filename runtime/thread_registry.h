// thread_registry.h — the Lua-level threads of one interpreter and how they
// start and end. This file is private to the runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gil.h"
#include "wait_list.h"

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

// ThreadRegistry lists every thread an interpreter has had. Guarded by the
// GIL.
class ThreadRegistry {
 public:
  std::shared_ptr<ThreadRecord> add(std::string name, bool daemon);
  // finished() marks `record` done and wakes its joiners and exit waiters.
  void finished(ThreadRecord& record);
  // forget() drops a record whose OS thread never started.
  void forget(const ThreadRecord& record);

  int alive() const;
  int alive_non_daemon() const;
  const std::vector<std::shared_ptr<ThreadRecord>>& all() const { return all_; }
  WaitList& exits() { return exits_; }

  // report_unjoined_failure() prints a failed thread's traceback to stderr
  // once, unless a joiner received it.
  static void report_unjoined_failure(ThreadRecord& record);

 private:
  std::vector<std::shared_ptr<ThreadRecord>> all_;
  uint64_t next_id_ = 1;
  WaitList exits_;
};

// spawn_thread() starts an OS thread that calls the function at L's stack
// index `first` with the values above it as arguments, popping them all. On
// success it pushes the thread's lua_State (its results end up on that
// stack); on failure it returns null and sets `error`.
std::shared_ptr<ThreadRecord> spawn_thread(lua_State* L, int first, std::string name,
                                           bool daemon, std::string* error);

}  // namespace gilrun
