// run_record.h — RunRecord: a Lua function running somewhere, joinable. This
// file is private to the runtime.
//
// An OS thread (ThreadRecord, thread_registry.h; run by os_thread.cpp) and a
// green thread (GreenThread, green/green_thread.h) are the same thing to
// Lua: a function running on a Lua thread of its own, which ends once and is
// joined by whoever wants its results. RunRecord is that part, and the
// functions below are the one way each step of the lifecycle is done:
//
//   spawn   new_run_thread() moves the function and its arguments onto a new
//           Lua thread T of the VM, anchored in the registry (`anchor`) so
//           that the collector keeps T while the run runs, whoever holds a
//           handle. The spawner pushes T (push_run_thread) and stores it as
//           its handle's user value 1: from the end of the run on, the
//           handles alone keep T, and with it the results.
//   run     the body calls the function through protected_call() on T: an
//           error ends there, the error value at the top of T.
//   end     fail_run() turns an error into `failed` and `error_text` (the
//           message with its traceback; the value stays on T for join());
//           end_run() lets the anchor go, marks the run done and wakes its
//           joiners. An OS thread then leaves the registry's running list
//           (ThreadRegistry::finished, which wakes those waiting for exits).
//   join    join_run() waits on `joiners` until `done` and sets `joined`;
//           the joiner copies T's stack (the results, or the error value,
//           which it raises: bindings/support.h's push_results).
//   report  a failed run that nobody joined reports its traceback once
//           (report_unjoined_failure, to Options::report): when its last
//           handle is collected, and for OS threads also when the script
//           ends (ThreadRegistry).
//
// An isolated OS thread (os_thread.cpp) runs in a VM of its own and has no T
// and no anchor: its results (or its error) come back encoded, and it sets
// `failed` and `error_text` from what its own VM reported.
// The main thread has a record but is never spawned, ended or anchored.
//
// Fields other than the constants are guarded by the GIL.
#pragma once

#include <cstdint>
#include <string>

#include "wait/wait_list.h"

struct lua_State;

namespace gilrun {

struct Core;
struct ThreadState;

struct RunRecord {
  enum class Kind : uint8_t { os_thread, green_thread };
  static constexpr int kNoRef = -2;  // LUA_NOREF (checked in run_record.cpp)

  RunRecord(Kind kind_, uint64_t id_, std::string name_)
      : kind(kind_), id(id_), name(std::move(name_)) {}
  RunRecord(const RunRecord&) = delete;
  RunRecord& operator=(const RunRecord&) = delete;

  const Kind kind;
  const uint64_t id;
  const std::string name;  // OS threads only

  int anchor = kNoRef;     // registry ref to its Lua thread while it runs
  bool done = false;
  bool failed = false;     // ended with an error (a killed green thread did not)
  bool joined = false;     // someone received the results or the error
  bool reported = false;   // an unjoined failure was reported
  std::string error_text;  // the error with its traceback, when failed
  WaitList joiners;        // woken when it is done

  // unreported_failure() tells whether report_unjoined_failure() would print.
  bool unreported_failure() const { return failed && !joined && !reported; }
};

// new_run_thread() pushes nothing and returns a new Lua thread T of L's VM,
// anchored in the registry (*anchor), onto which it has moved the function at
// L's index `first` and every value above it (its arguments), with room for
// `extra` more values. If T's stack cannot hold them it returns null, with
// nothing moved and nothing anchored. It raises a memory error if the VM has
// no memory for T: call it before any C++ object of the caller's is alive.
lua_State* new_run_thread(lua_State* L, int first, int extra, int* anchor);

// release_run_thread() lets go of an anchor new_run_thread() made, for a run
// that could not start after all (its values are lost). Raises nothing.
void release_run_thread(lua_State* L, int* anchor);

// push_run_thread() pushes the run's Lua thread while it is anchored (for a
// handle to keep) and returns true; otherwise pushes nothing and returns
// false. Raises nothing (the stack must have room for one value).
bool push_run_thread(lua_State* L, const RunRecord& run);

// fail_run() records a failed run, on its own OS thread, GIL held: the
// error value protected_call() left at T's top stays there for join(), its
// message and traceback go to error_text. `traceback` is the one
// protected_call() kept for a non-string error, if it was asked for one.
void fail_run(RunRecord& run, lua_State* T, int status, std::string traceback = {});

// end_run() ends a run, GIL held: the anchor goes (L: any state of the VM;
// null for a run never anchored), the run is done and its joiners are woken.
void end_run(RunRecord& run, lua_State* L);

// wait_for_end() waits until `run` is done. join_run() waits the same way
// and then marks the run joined: its caller receives the results or the
// error. Both return wait_until()'s status.
WaitStatus wait_for_end(ThreadState& ts, RunRecord& run, const Deadline& deadline);
WaitStatus join_run(ThreadState& ts, RunRecord& run, const Deadline& deadline);

// report_unjoined_failure() reports (report.h) the traceback of a run that
// failed and that no joiner received, once ("gilrun: thread 'name' (#2)
// failed and was never joined:", or "green thread #1").
void report_unjoined_failure(const Core& core, RunRecord& run);

}  // namespace gilrun
