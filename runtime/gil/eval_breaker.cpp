/*
 * eval_breaker.cpp — asynchronous preemption of the Lua VM.
 *
 * Notes about the implementation
 * ------------------------------
 * In Lua 5.4 any installed hook switches the VM into tracing mode for every
 * instruction: a permanent count hook made recursive fib ~75% slower (see
 * DESIGN.md). So no hook is installed while a thread runs undisturbed. When
 * another thread needs this one to stop (a GIL drop request, Ctrl-C), it
 * sends the owner thread kBreakSignal; the handler arms a one-shot hook on the
 * lua_State the owner is running *right now*. This is lua.c's `laction` trick:
 * lua_sethook is documented as safe to call from a signal handler, and the VM
 * re-reads its trap flag at every backward jump and call, so even a tight
 * `while true do end` stops. The hook then disarms itself, restores whatever
 * hook the script had set with debug.sethook (and forwards it the event it
 * stole), and calls the BreakHandler, which drops and re-takes the GIL.
 *
 * Hooks belong to a lua_State, and every coroutine is its own lua_State. So
 * the owner tracks which state it is executing (`running_`, updated by
 * gilrun's coroutine.resume/wrap in stdlib_coroutine.cpp and by the hub's
 * switches); a break that is pending when the running state changes moves
 * with it. The script's own hook (debug.sethook, stdlib_debug.cpp) is kept
 * aside while ours is armed and gets every event it asked for.
 *
 * The handler and the owner's normal code run on the same OS thread, so they
 * never run in parallel, but the handler can interrupt the owner in the
 * middle of moving the hook. While the owner changes `armed_`, it sets
 * `busy_`; a signal arriving then only records `deferred_`, and the owner arms
 * on its way out of the critical section.
 *
 * The ticks policy needs the opposite: a count hook that fires every N
 * instructions while another thread waits (set_periodic). It is armed the
 * same way and stays installed (Lua restarts its count) until switched off.
 *
 * A break may be lost (the script replaces the hook inside debug.sethook at
 * the wrong moment, or the VM clears a frame's trap flag just as the signal
 * arms it: see arm() in eval_breaker_signal.cpp). Every policy's waiters
 * re-send a drop request each switch interval while nothing happens, and
 * arm() re-installs the hook for them (with a back-off, as installing walks
 * the whole stack: see arm()), so a lost break only delays the switch by an
 * interval or two. The same repetition lets a waiter's request pass unarmed
 * while the owner has not yet run a few times what arming it last cost
 * (worth_arming(): a deep stack is not preempted faster than it runs).
 *
 * kBreakSignal is SIGURG, for the reason Go's runtime uses it for the same
 * job: it is ignored by default and practically unused by programs (under
 * ThreadSanitizer it is SIGTRAP, and the handler's half of this file lives in
 * eval_breaker_signal.cpp, compiled uninstrumented: see its notes). The
 * handler is installed with SA_RESTART so that C code running under the GIL
 * sees no EINTR.
 */
#include "gil/eval_breaker.h"

#include <lua.hpp>

#include "thread_state.h"

namespace gilrun {

void EvalBreaker::break_hook(lua_State* L, lua_Debug* ar) {
  if (ThreadState* ts = ThreadState::current()) {
    ts->breaker.on_hook(L, ar);
  } else {
    lua_sethook(L, nullptr, 0, 0);  // a state touched by a foreign thread
  }
}

// The owner thread and its own signal handler share busy_, deferred_ and
// running_. They never run in parallel, so relaxed atomics plus a compiler
// fence (atomic_signal_fence) order them. Stronger orderings are not just
// unnecessary but harmful under ThreadSanitizer: it implements them with an
// internal lock, and a handler that interrupts the owner inside one
// deadlocks on it.
constexpr auto kRelaxed = std::memory_order_relaxed;

void EvalBreaker::set_busy(bool busy) {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  busy_.store(busy, kRelaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

void EvalBreaker::bind(BreakHandler handler, void* context) {
  owner_ = pthread_self();
  signal_in_flight_.store(false);
  handler_ = handler;
  context_ = context;
  set_signal_target(this);
  bound_.store(true);
}

void EvalBreaker::unbind() {
  set_busy(true);
  disarm();
  running_.store(nullptr, kRelaxed);
  bound_.store(false);
  set_signal_target(nullptr);
  set_busy(false);
}

void EvalBreaker::leave_critical() {
  set_busy(false);
  // A signal that arrived during the critical section was deferred to us.
  // (Load first: the locked exchange is most of a green thread switch's
  // cost otherwise, and a signal landing after set_busy(false) arms by
  // itself, so a false load cannot miss one.)
  // It passes the same gate as one armed in the handler (worth_arming()):
  // a request that lands during the hook itself, as a waiter that keeps
  // asking often does, would otherwise re-arm a deep stack at once.
  while (deferred_.load(kRelaxed) && deferred_.exchange(false, kRelaxed)) {
    const bool urgent = urgent_.exchange(false, kRelaxed);
    set_busy(true);
    if (urgent || worth_arming()) arm(running_now());
    set_busy(false);
  }
}

void EvalBreaker::arm_now() {
  set_busy(true);
  arm(running_now());
  leave_critical();
}

void EvalBreaker::set_script_hook(lua_State* L, const Hook& hook) {
  set_busy(true);
  if (armed_on(L)) {
    saved_ = hook;  // ours stays armed; the script's is back when it fires
    script_countdown_ = hook.count;  // lua_sethook restarts the count too
    install(L);
  } else {
    lua_sethook(L, hook.fn, hook.mask, hook.count);
  }
  leave_critical();
}

EvalBreaker::Hook EvalBreaker::script_hook(lua_State* L) {
  set_busy(true);  // a break armed between the reads would mix two hooks
  Hook hook{lua_gethook(L), lua_gethookmask(L), lua_gethookcount(L)};
  if (hook.fn == break_hook) hook = armed_ == L ? saved_ : Hook{};
  leave_critical();
  return hook;
}

void EvalBreaker::set_running(lua_State* L) {
  set_busy(true);
  running_.store(L, kRelaxed);
  if (armed_ != nullptr && armed_ != L) arm(L);  // the break follows
  leave_critical();
}

void EvalBreaker::on_hook(lua_State* L, lua_Debug* ar) {
  set_busy(true);
  resumed_at_.store(ticks_now(), kRelaxed);  // answered: the run starts again (worth_arming())
  Hook script;
  bool script_count_due = false;
  if (armed_ == L) {
    script = saved_;
    unanswered_ = 0;  // answered: the next repeated request re-arms at once
    rearm_after_ = 1;
    if (ar->event == LUA_HOOKCOUNT && (script.mask & LUA_MASKCOUNT) != 0) {
      script_countdown_ -= installed_count_;
      script_count_due = script_countdown_ <= 0;
      if (script_count_due) script_countdown_ = script.count;
    }
    // In periodic mode (ticks) the count hook stays installed: Lua restarts
    // its count by itself, and re-installing would walk the whole stack.
    const int periodic = periodic_.load(kRelaxed);
    if (periodic == 0 || periodic != installed_count_) disarm();
  } else {
    lua_sethook(L, nullptr, 0, 0);  // a stray copy of our hook
  }
  leave_critical();
  // Forward the event to the script's own hook if it asked for this kind.
  const int event_mask =
      ar->event == LUA_HOOKTAILCALL ? LUA_MASKCALL : 1 << ar->event;
  const bool wanted = ar->event == LUA_HOOKCOUNT ? script_count_due
                                                 : (script.mask & event_mask) != 0;
  if (script.fn != nullptr && wanted) script.fn(L, ar);
  const bool interrupted = handler_ != nullptr && handler_(context_);
  resumed_at_.store(ticks_now(), kRelaxed);  // the GIL is back: worth_arming()
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // The ticks policy's next check, if periodic mode began during the handler.
  if (periodic_.load(kRelaxed) > 0 && armed_ == nullptr) arm_now();
  if (interrupted) {  // nothing with a destructor is live here
    // A hook has no frame of its own: level 0 is the interrupted function,
    // so the error names the line the loop was on (luaL_error's level 1
    // would be its caller, or nothing at the main chunk). At a call or
    // return event (kBreakMask asks for them) level 0 may be a C function,
    // which has no line: then it is the line that called it.
    lua_Debug frame;
    const bool in_c = lua_getstack(L, 0, &frame) && lua_getinfo(L, "l", &frame) &&
                      frame.currentline < 0;
    luaL_where(L, in_c ? 1 : 0);
    lua_pushliteral(L, "interrupted");
    lua_concat(L, 2);
    lua_error(L);
  }
}

}  // namespace gilrun
