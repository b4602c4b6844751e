// eval_breaker.h — stopping a running Lua VM at its next instruction, from
// another thread, without a permanently installed hook. This file is private
// to the runtime; eval_breaker.cpp explains the mechanism.
#pragma once

#include <pthread.h>

#include <atomic>

struct lua_State;
struct lua_Debug;

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
  // instruction. Any thread, while the owner is known to be alive.
  void request_break();
  // arm_now() is request_break() for the owner thread itself.
  void arm_now();
  // set_periodic() makes the hook fire every `count` VM instructions until
  // set back to 0, instead of once (the ticks policy). Any thread; takes
  // effect at the next arming. Returns the previous count.
  int set_periodic(int count) { return periodic_.exchange(count); }

  // suspend() takes a pending break off the running state and holds off new
  // ones until resume() puts it back: for debug.sethook/gethook, so that a
  // script never sees or overwrites the breaker's hook. Owner thread only.
  void suspend();
  void resume();

  // Used by the signal handler and the hook (eval_breaker.cpp).
  void on_signal();
  void on_hook(lua_State* L, lua_Debug* ar);

 private:
  struct SavedHook {
    void (*fn)(lua_State*, lua_Debug*) = nullptr;
    int mask = 0;
    int count = 0;
  };
  // The hook armed on the running state; calls on_hook on its owner.
  static void break_hook(lua_State* L, lua_Debug* ar);
  // set_signal_target() points the calling thread's signal handler at a
  // breaker (null: none). Owner thread only.
  static void set_signal_target(EvalBreaker* breaker);
  // arm(), disarm() and on_signal() run in the signal handler too: they
  // live in eval_breaker_signal.cpp.
  void arm(lua_State* L);
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
  std::atomic<int> periodic_{0};
  lua_State* armed_ = nullptr;  // the state carrying our hook, if any
  bool suspended_armed_ = false;  // a break was pending when suspend() ran
  SavedHook saved_;             // the script's own hook on armed_
};

}  // namespace gilrun
