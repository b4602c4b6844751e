// thread_state.h — ThreadState: what the runtime knows about one OS thread
// that runs Lua. This file is private to the runtime.
//
// Every OS thread that touches the shared VM has exactly one ThreadState,
// reachable from the thread itself through ThreadState::current() (also from
// the break signal handler) and from the Gil while it holds or wants the
// lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <string>

#include "gil/eval_breaker.h"
#include "gil/gil.h"
#include "wait/parker.h"

namespace gilrun {

struct Core;
struct GreenThread;
class Hub;
class TraceBuffer;

struct ThreadState {
  ThreadState(std::shared_ptr<Core> core, uint64_t id, std::string name);
  ~ThreadState();
  ThreadState(const ThreadState&) = delete;
  ThreadState& operator=(const ThreadState&) = delete;

  // current() is the ThreadState bound to the calling OS thread, or null.
  // Async-signal-safe.
  static ThreadState* current();
  // attach() binds this state to the calling OS thread; detach() undoes it.
  void attach(lua_State* L);
  void detach();

  Gil& gil() const;
  // take_interrupt() consumes a pending Ctrl-C.
  bool take_interrupt() { return interrupt_pending.exchange(false); }

  const std::shared_ptr<Core> core;  // keeps the GIL alive for daemon threads
  const uint64_t id;
  const std::string name;

  EvalBreaker breaker;
  Parker parker;
  std::atomic<bool> drop_request{false};     // set by a GIL waiter
  std::atomic<bool> interrupt_pending{false};  // set by the SIGINT watcher
  // Guarded by the Gil's mutex:
  GilCounters counters;
  HandOver hand_over;                    // for attribution (runtime/blame/)
  monitor::ThreadSlot* monitor_slot = nullptr;  // its row in the monitor page
  bool monitor_slot_claimed = false;
  bool io_bound = false;                 // last drop was voluntary (priority policy)
  std::condition_variable gil_turn;      // its wake-up in a GIL line (gil/wait_line.h, handoff_queue.h)
  TraceBuffer* trace = nullptr;          // this thread's trace, if recording
  // Green threads (hub.h): this thread's hub, created when it first spawns
  // one (atomic: the SIGINT watcher reads it), and the green thread running
  // now (null while the OS thread runs its own code). Owner thread only.
  std::atomic<Hub*> hub{nullptr};
  GreenThread* green = nullptr;
};

// with_gil_released() runs `blocking` with the calling thread's GIL dropped.
// `blocking` must not touch any lua_State.
template <class F>
void with_gil_released(ThreadState& ts, F&& blocking) {
  ts.gil().drop(ts);
  try {
    blocking();
  } catch (...) {
    ts.gil().take(ts);
    throw;
  }
  ts.gil().take(ts);
}

}  // namespace gilrun
