// eval_breaker.h — stopping a running Lua VM at its next instruction, from
// another thread, without a permanently installed hook. This file is private
// to the runtime; eval_breaker.cpp explains the mechanism.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <ctime>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

struct lua_State;
struct lua_Debug;
typedef void (*lua_Hook)(lua_State* L, lua_Debug* ar);

namespace gilrun {

// BreakHandler is what the armed hook calls on the owning thread once the VM
// has stopped. It returns true when the VM must raise "interrupted".
using BreakHandler = bool (*)(void* context);

class EvalBreaker {
 public:
  // install_signal_handler() installs the process-wide handler for the break
  // signal. Idempotent; called when the first interpreter is created.
  static void install_signal_handler();

  // bind() attaches the breaker to the calling OS thread (which it will
  // signal) and to the handler the hook will call. Owner thread only.
  void bind(BreakHandler handler, void* context);
  // unbind() detaches it before the owner thread exits.
  void unbind();

  // set_running() records the lua_State the owner is about to execute
  // (its own, a coroutine it resumes, a coroutine's resumer after a yield).
  // A pending break follows the switch. Owner thread only.
  void set_running(lua_State* L);
  lua_State* running() const { return running_now(); }

  // request_break() asks the owner thread to stop at its next VM
  // instruction, on behalf of a GIL waiter: one that asks again each switch
  // interval until it is answered, so the breaker may let a request pass
  // unarmed when arming would cost the owner more than it gets to run
  // (arm() in eval_breaker_signal.cpp). Any thread, while the owner is
  // known to be alive.
  void request_break();
  // request_urgent_break() is request_break() for one who asks only once
  // (Ctrl-C, the hub's block monitor): always signalled, always armed.
  void request_urgent_break();
  // arm_now() is request_break() for the owner thread itself.
  void arm_now();
  // set_periodic() makes the hook fire every `count` VM instructions until
  // set back to 0, instead of once (the ticks policy). Any thread; takes
  // effect at the next arming. Returns the previous count.
  int set_periodic(int count) { return periodic_.exchange(count); }

  // Hook is a hook as lua_sethook takes it.
  struct Hook {
    lua_Hook fn = nullptr;
    int mask = 0;
    int count = 0;
  };
  // set_script_hook() installs the script's own hook on L (debug.sethook).
  // While the breaker's hook is armed on L, the script's hook is kept aside
  // and the breaker forwards it the events it asked for; it is back in place
  // when the break fires. Owner thread only.
  void set_script_hook(lua_State* L, const Hook& hook);
  // ticks_now() is the breaker's tick count: the CPU's time-stamp counter on x86
  // (constant-rate on every CPU this runs on), elsewhere CLOCK_MONOTONIC in
  // ns. Cheap, and it never enters a sanitizer's runtime, so the signal
  // handler may read it (eval_breaker_signal.cpp's notes say why it must
  // not). arming_ticks() is the total time the owner spent installing the
  // hook (Lua's lua_sethook, which walks the whole stack), in those ticks.
  static uint64_t ticks_now() {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1000000000u + uint64_t(t.tv_nsec);
#endif
  }
  uint64_t arming_ticks() const { return arming_ticks_.load(std::memory_order_relaxed); }

  // script_hook() is the script's own hook on L, never the breaker's
  // (debug.gethook, and what a new coroutine of L inherits). Owner thread.
  Hook script_hook(lua_State* L);

  // on_signal() runs in the break signal's handler (eval_breaker_signal.cpp),
  // on_hook() in the hook it arms (eval_breaker.cpp).
  void on_signal();
  void on_hook(lua_State* L, lua_Debug* ar);

 private:
  // The hook armed on the running state; calls on_hook on its owner.
  static void break_hook(lua_State* L, lua_Debug* ar);
  // set_signal_target() points the calling thread's signal handler at a
  // breaker (null: none). Owner thread only.
  static void set_signal_target(EvalBreaker* breaker);
  // arm(), armed_on(), install(), disarm() and on_signal() run in the signal
  // handler too: they live in eval_breaker_signal.cpp.
  void arm(lua_State* L);
  // worth_arming() tells whether a waiter's request may arm now: see arm().
  bool worth_arming();
  void install(lua_State* L);
  // armed_on() tells whether our hook is armed, and still installed, on L.
  bool armed_on(lua_State* L) const;
  void disarm();
  void set_busy(bool busy);
  lua_State* running_now() const;
  void leave_critical();

  pthread_t owner_{};
  BreakHandler handler_ = nullptr;
  void* context_ = nullptr;
  std::atomic<bool> bound_{false};
  std::atomic<lua_State*> running_{nullptr};
  // busy_ is set while the owner thread changes armed_/running_ outside the
  // signal handler; a signal arriving then only sets deferred_.
  std::atomic<bool> busy_{false};
  std::atomic<bool> deferred_{false};
  // signal_in_flight_ is set by request_break() when it sends the signal and
  // cleared by the handler once it has armed: requests that arrive in
  // between are answered by that one arming (at most one signal in flight).
  std::atomic<bool> signal_in_flight_{false};
  // urgent_ is set by request_urgent_break() before its signal: that request
  // arms whatever worth_arming() says.
  std::atomic<bool> urgent_{false};
  std::atomic<int> periodic_{0};
  lua_State* armed_ = nullptr;  // the state carrying our hook, if any
  Hook saved_;                  // the script's own hook on armed_
  int installed_count_ = 0;     // the count our hook was installed with
  // Repeated requests while armed and not yet fired (arm() explains):
  int unanswered_ = 0;
  int rearm_after_ = 1;
  // The script's count hook, counted down by our firings while ours is
  // installed in its place.
  int script_countdown_ = 0;
  // What the last installation cost and when the owner last came back from
  // a break it answered (ticks_now() ticks; worth_arming() compares them). The
  // owner writes resumed_at_ in its hook and its handler reads it: relaxed
  // plus a compiler fence, like busy_.
  uint64_t last_arming_cost_ = 0;
  std::atomic<uint64_t> resumed_at_{0};
  std::atomic<uint64_t> arming_ticks_{0};
};

}  // namespace gilrun
