// green_thread.h — GreenThread: one green thread's record, and spawning,
// killing and ending them. This file is private to the runtime.
//
// A green thread is a Lua function running on its own lua_State (a Lua
// thread of the shared VM, anchored in the registry while it runs) and on its
// own Fiber, scheduled cooperatively by the hub (hub.h) of the OS thread that
// spawned it; it never moves to another OS thread. Its lifecycle is an OS
// thread's (run_record.h: one setup, one ending, one report): its results
// (or its error value) stay on its lua_State for join(). Its body runs
// through protected_call(), so a Lua error ends at the fiber's entry and
// never unwinds across a fiber boundary.
//
// Fields are guarded by the GIL, and only the owning hub's OS thread runs
// the green thread; any OS thread holding the GIL may wake it
// (Hub::schedule).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "green/fiber.h"
#include "run_record.h"
#include "wait/wait_list.h"

struct lua_State;

namespace gilrun {

class Hub;
struct ThreadState;

// GreenGroup counts the live members of a green.pool(n).
struct GreenGroup {
  int active = 0;
  WaitList changed;  // woken whenever a member ends
};

// GreenThread is a RunRecord (done, failed, joined, the error, the joiners,
// the anchor) and what only green threads have.
struct GreenThread : RunRecord {
  GreenThread(Hub& hub_, uint64_t id_, lua_State* L_, int anchor_, std::size_t stack_size)
      : RunRecord(Kind::green_thread, id_, {}), hub(hub_), L(L_), running(L_),
        fiber(&GreenThread::body, this, stack_size) {
    anchor = anchor_;
  }

  Hub& hub;
  lua_State* const L;       // its Lua thread: function and args, then results
  lua_State* running;       // what the eval breaker runs while switched out
  Fiber fiber;
  std::shared_ptr<GreenThread> self;  // keeps the record alive while it runs
  std::shared_ptr<GreenGroup> group;  // its pool, if any

  bool scheduled = false;     // on the hub's run queue
  bool kill_pending = false;  // kill() asked; raised at its next switch point
  bool killed = false;        // ended by kill() (not `failed`)
  GreenThread* next_ready = nullptr;  // run queue link
  uint64_t wait_seq = 0;      // tells stale timer entries apart

  static void body(void* self);
};

// spawn_green() starts a green thread on the calling OS thread's hub: it
// calls the function at L's index `first` with the values above it, popping
// them all, and pushes the green thread's lua_State. It first runs when the
// spawner next blocks or yields. If the hub cannot start or no stack can be
// had, it returns null with the error message pushed instead (the caller
// raises it once no C++ object of its own is alive). It may raise a memory
// error, and then nothing has started.
std::shared_ptr<GreenThread> spawn_green(ThreadState& ts, lua_State* L, int first);

// current_green() is the green thread running on the calling OS thread, or
// null in the OS thread's own code.
GreenThread* current_green(ThreadState& ts);

// kill_green() asks `g` to raise "killed" at its next switch point (a
// green thread that has not started yet just never runs). Not for the
// calling green thread itself.
void kill_green(GreenThread& g);

// kill_pending() is true in a green thread that was killed: blocking calls
// then raise "killed" instead of "interrupted".
bool kill_pending(ThreadState& ts);

}  // namespace gilrun
