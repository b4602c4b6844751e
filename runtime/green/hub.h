// hub.h — Hub: the scheduler of one OS thread's green threads, on a libuv
// loop. This file is private to the runtime.
//
// gevent's shape. Every OS thread that spawns a green thread gets one Hub
// (ThreadState::hub). The green threads run only while the OS thread's own
// code — the "root", gevent's main greenlet — is blocked: when the root
// calls something that waits (join, sleep, queue get, green.yield, the wait
// for green threads at exit) and its hub has live green threads, the wait
// runs the hub's scheduler loop on the root's own stack instead of parking
// the OS thread. The loop resumes ready green threads one by one (each
// switch is hub -> fiber -> hub), and when none is ready it drops the GIL
// and sleeps in uv_run() until a timer expires, a descriptor is ready, or
// another OS thread wakes it (uv_async_send).
//
// A green thread that blocks registers how it wants to be woken and
// suspends its fiber (a sleep parks without it, green_thread.h: the fiber
// ends, and a new one carries on when it is woken). Three things wake it:
//   - a WaitList (wait_list.h): the node's waker calls schedule(), from any
//     OS thread that holds the GIL;
//   - the clock: a deadline goes on the hub's own TimerQueue, and one
//     uv_timer is armed for the earliest deadline before the loop sleeps;
//   - a descriptor: wait_fd() joins the uv_poll watching it (one per
//     descriptor, however many green threads wait on it: gevent's readers
//     queue up the same way), and every waiter whose event came is woken.
// The run queue and everything else here are guarded by the GIL. libuv
// callbacks run inside uv_run() — maybe without the GIL — so they only note
// what happened on a list only this OS thread touches, and the loop turns
// the notes into schedule() calls once it holds the GIL again.
//
// Each switch tells the eval breaker which lua_State now runs (the green
// thread's, or whatever the root or the green thread was running when it
// switched away), so that a GIL drop request or Ctrl-C stops the right VM.
//
// Ctrl-C is the root's: SigintWatcher calls interrupt() (uv_async_send, which
// is thread-safe) and the root's wait returns "interrupted". A green thread
// that is running Lua when it arrives gets it instead, through the eval
// breaker, like any code running on the main thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "green/timer_queue.h"
#include "wait/wait_list.h"

namespace gilrun {

class BlockMonitor;
struct FdWatch;
struct GreenThread;
struct ThreadState;

class Hub {
 public:
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // start() is the calling OS thread's hub, created on first use; null if
  // it cannot be created (libuv needs descriptors: EMFILE), with the reason
  // in *error. Nothing is left half-made.
  static Hub* start(ThreadState& ts, std::string* error);
  // of() is the calling OS thread's hub, which must exist (active() says so).
  static Hub& of(ThreadState& ts);
  // active() tells whether blocking calls on `ts` must go through its hub:
  // the caller is a green thread, or the OS thread has live green threads.
  static bool active(const ThreadState& ts);
  // open_hubs() counts hubs opened and not yet destroyed, in the whole
  // process (an abandoned one included, see destroy_hub): the tests' leak check.
  static std::size_t open_hubs();

  // adopt() takes a new green thread and queues it to run.
  void adopt(std::shared_ptr<GreenThread> g);
  // schedule() makes a parked green thread ready. Any OS thread, GIL held.
  void schedule(GreenThread& g);
  // interrupt() wakes the loop to look at the OS thread's pending Ctrl-C.
  // Any thread, no GIL needed.
  void interrupt();

  int alive() const { return alive_; }
  // others_ready() tells whether someone besides the caller could run now:
  // a ready green thread, or the root woken.
  bool others_ready() const { return ready_head_ != nullptr || root_woken_; }
  uint64_t switches() const { return switches_; }

  // For the BlockMonitor (block_monitor.h), when Options::green_block_warn is on:
  // when the running green thread was switched in (Clock ticks; 0: none
  // runs) and a count of switch-ins. Written by this hub's thread only.
  std::atomic<int64_t> green_since{0};
  std::atomic<uint64_t> switch_seq{0};
  // request_block_report() asks for report_block() on the hub's thread.
  // Any thread.
  void request_block_report();
  // report_block() reports the running green thread, with its traceback, if
  // a report was requested. The eval breaker's hook calls it on the hub's
  // thread.
  void report_block();

  // The blocking primitives, for the caller's context (green or root).
  // GIL held on entry and on return.
  WaitStatus park(WaitList& list, const Deadline& deadline);
  WaitStatus wait_fd(int fd, short events, const Deadline& deadline);
  // begin_wait() puts the calling green thread's deadline (if any) on the
  // clock for a new wait, and end_wait() makes what is left of it stale: the
  // two ends of suspend(), for a wait that parks without suspending the
  // fiber (green_thread.h's sleep_unwound).
  void begin_wait(GreenThread& g, const Deadline& deadline);
  void end_wait(GreenThread& g);
  // yield(): a green thread goes to the back of the run queue; the root
  // lets every ready green thread run once. Returns interrupted when a green
  // thread was killed (or the root got Ctrl-C).
  WaitStatus yield();
  // drain() (root only) runs green threads until none is left, or Ctrl-C.
  WaitStatus drain();

 private:
  explicit Hub(ThreadState& ts);
  // open() initialises the loop and its handles; false (and *error) if
  // libuv cannot, after undoing what it did.
  bool open(std::string* error);
  static void wake_green(void* g);
  static void wake_root(void* hub);
  bool on_hub_thread() const;
  void push_ready(GreenThread& g);
  GreenThread* pop_ready();
  // suspend() switches the calling green thread out until it is scheduled
  // (or its deadline passes).
  void suspend(GreenThread& g, const Deadline& deadline);
  // run_root() runs green threads until the root is woken (or, with
  // until_idle, none is left), the deadline passes, or Ctrl-C.
  WaitStatus run_root(const Deadline& deadline, bool until_idle);
  void run_ready();
  void switch_into(GreenThread& g);
  void finish(GreenThread& g);
  void poll_now();
  // sleep_in_loop() takes the root's deadline by value: run_root calls it in
  // its loop, and a reference to drain()'s disengaged deadline escaping into
  // it made gcc think passed() might read the unset time (-Wmaybe-uninitialized).
  void sleep_in_loop(Deadline root_deadline);
  void collect();
  WaitStatus green_park(GreenThread& g, WaitList& list, const Deadline& deadline);
  WaitStatus root_park(WaitList& list, const Deadline& deadline);

  friend struct FdWatch;
  friend void destroy_hub(ThreadState& ts);

  ThreadState& ts_;
  bool opened_ = false;
  BlockMonitor* const monitor_;  // null unless Options::green_block_warn
  std::atomic<bool> report_requested_{false};
  uv_loop_t loop_;
  uv_async_t async_;
  uv_timer_t timer_;
  GreenThread* ready_head_ = nullptr;
  GreenThread* ready_tail_ = nullptr;
  TimerQueue timers_;
  std::vector<GreenThread*> noted_;  // woken by libuv callbacks; null: the root
  // One uv_poll per descriptor someone waits on, shared by all its waiters
  // (libuv allows one per descriptor and loop).
  std::unordered_map<int, FdWatch*> fd_watches_;
  bool root_woken_ = false;
  int alive_ = 0;
  uint64_t switches_ = 0;
  uint64_t since_poll_ = 0;
};

// drain_green_threads() runs the calling OS thread's green threads (if it
// has any) until all have finished: an OS thread's function, and the main
// script, are over only then. Returns interrupted on Ctrl-C.
WaitStatus drain_green_threads(ThreadState& ts);

// interrupt_hub() wakes `ts`'s hub, if it has one, to see a Ctrl-C.
void interrupt_hub(ThreadState& ts);

// destroy_hub() frees a thread's hub when its OS thread is done with Lua. A
// hub that still has green threads (the wait for them was interrupted) is
// left alone: their fibers cannot be unwound.
void destroy_hub(ThreadState& ts);

}  // namespace gilrun
