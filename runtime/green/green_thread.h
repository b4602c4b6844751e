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
// Parking without a stack. A green thread that waits where nothing of its
// own is on the C stack — in a Lua-callable C function called from its own
// lua_State (not from a coroutine inside it), with only yieldable frames in
// between — parks by unwinding instead of suspending its fiber: the C
// function yields (lua_yieldk) to the lua_resume at the bottom of the
// fiber, GreenThread::body returns, and the fiber's stack goes back to the
// pool. When the thread is woken, the hub restarts its fiber on a warm slot
// and body() resumes the Lua thread, which runs the C function's
// continuation. So a parked sleeper costs its lua_State and its record, not
// a stack page and a share of page tables (README, "Stacks and memory").
// Sleeps park this way
// (sleep_unwound); every other wait suspends the fiber. The cost is a
// fiber start per wake-up instead of a switch, and a protected call that is
// yieldable (lua_pcallk): the green thread's own state must then refuse
// coroutine.yield, resume and close, as it did when it was not yieldable
// (stdlib_coroutine.cpp).
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
  bool unwound = false;       // parked without its stack: body() resumes L
  lua_State* budget = nullptr;  // lua_resume's `from` (green_thread.cpp)

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

// unwindable_green() is the calling green thread if it may park without
// its stack from a C function running on L (see above), else null.
GreenThread* unwindable_green(ThreadState& ts, lua_State* L);

// sleep_unwound() parks `g` until `deadline` (nullopt: until killed) without
// its stack. A lua_CFunction returns its value, with no C++ object of its
// own alive (the yield longjmps past them): `return sleep_unwound(...)`.
// The C function's caller gets no results; a kill raises "killed".
int sleep_unwound(lua_State* L, GreenThread& g, const Deadline& deadline);

// parked_unwound() tells whether `co` is a green thread's state parked
// without its stack: yielded to the hub, not to Lua, so not resumable.
bool parked_unwound(lua_State* co);

// restart_green() gives a green thread parked without its stack a fiber
// stack again, before the hub switches into it. If none can be had, the
// green thread ends with "cannot resume a green thread: out of memory" (its
// joiners get that error) and it returns false.
bool restart_green(GreenThread& g);

// kill_pending() is true in a green thread that was killed: blocking calls
// then raise "killed" instead of "interrupted".
bool kill_pending(ThreadState& ts);

}  // namespace gilrun
