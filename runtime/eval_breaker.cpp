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
 * the owner tracks which state it is executing (`running_`, updated by the
 * coroutine.resume/wrap wrappers in coroutines.cpp); a break that is pending
 * when the running state changes moves with it.
 *
 * The handler and the owner's normal code run on the same OS thread, so they
 * never run in parallel, but the handler can interrupt the owner in the
 * middle of moving the hook. While the owner changes `armed_`, it sets
 * `busy_`; a signal arriving then only records `deferred_`, and the owner arms
 * on its way out of the critical section.
 *
 * The ticks policy needs the opposite: a count hook that fires every N
 * instructions while another thread waits (set_periodic). It is armed the
 * same way, and re-armed after each firing until switched off.
 *
 * A break may be lost (the script replaces the hook inside debug.sethook at
 * the wrong moment): the GIL re-sends a drop request every interval, so a
 * lost break only delays the switch by one interval.
 *
 * kBreakSignal is SIGURG, for the reason Go's runtime uses it for the same
 * job: it is ignored by default and practically unused by programs (under
 * ThreadSanitizer it is SIGSYS; see below). The handler is installed with
 * SA_RESTART so that C code running under the GIL sees no EINTR.
 */
#include "eval_breaker.h"

#include <lua.hpp>
#include <signal.h>

#include <cerrno>

#include <mutex>

#include "thread_state.h"

namespace gilrun {
namespace {

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer defers asynchronous signals until the thread next calls an
// intercepted libc function, which a Lua loop never does: preemption would
// never happen. It runs the signals it considers synchronous at once, and
// SIGSYS is one of them (tsan_interceptors_posix.cpp, is_sync_signal).
constexpr int kBreakSignal = SIGSYS;
#else
constexpr int kBreakSignal = SIGURG;
#endif
constexpr int kBreakMask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT;

void break_hook(lua_State* L, lua_Debug* ar) {
  if (ThreadState* ts = ThreadState::current()) {
    ts->breaker.on_hook(L, ar);
  } else {
    lua_sethook(L, nullptr, 0, 0);  // a state touched by a foreign thread
  }
}

void break_signal_handler(int) {
  const int saved_errno = errno;
  if (ThreadState* ts = ThreadState::current()) ts->breaker.on_signal();
  errno = saved_errno;
}

}  // namespace

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

lua_State* EvalBreaker::running_now() const {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return running_.load(kRelaxed);
}

void EvalBreaker::install_signal_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = break_signal_handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(kBreakSignal, &action, nullptr);
  });
}

void EvalBreaker::bind(BreakHandler handler, void* context) {
  owner_ = pthread_self();
  handler_ = handler;
  context_ = context;
  bound_.store(true);
}

void EvalBreaker::unbind() {
  set_busy(true);
  disarm();
  running_.store(nullptr, kRelaxed);
  bound_.store(false);
  set_busy(false);
}

void EvalBreaker::request_break() {
  if (bound_.load()) pthread_kill(owner_, kBreakSignal);
}

void EvalBreaker::arm(lua_State* L) {
  if (L == nullptr) return;
  if (armed_ == L && lua_gethook(L) == break_hook) return;
  disarm();
  saved_.fn = lua_gethook(L);
  saved_.mask = lua_gethookmask(L);
  saved_.count = lua_gethookcount(L);
  if (saved_.fn == break_hook) saved_ = SavedHook{};  // inherited by newthread
  const int periodic = periodic_.load(kRelaxed);
  if (periodic > 0) {
    lua_sethook(L, break_hook, LUA_MASKCOUNT, periodic);
  } else {
    lua_sethook(L, break_hook, kBreakMask, 1);
  }
  armed_ = L;
}

void EvalBreaker::disarm() {
  if (armed_ == nullptr) return;
  // If the script replaced our hook meanwhile (debug.sethook ran between the
  // signal and the next instruction), its new hook is the one to keep.
  if (lua_gethook(armed_) == break_hook) {
    lua_sethook(armed_, saved_.fn, saved_.mask, saved_.count);
  }
  armed_ = nullptr;
  saved_ = SavedHook{};
}

void EvalBreaker::leave_critical() {
  set_busy(false);
  // A signal that arrived during the critical section was deferred to us.
  // (Load first: the locked exchange is most of a green thread switch's
  // cost otherwise, and a signal landing after set_busy(false) arms by
  // itself, so a false load cannot miss one.)
  while (deferred_.load(kRelaxed) && deferred_.exchange(false, kRelaxed)) {
    set_busy(true);
    arm(running_now());
    set_busy(false);
  }
}

void EvalBreaker::on_signal() {
  if (!bound_.load(kRelaxed)) return;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (busy_.load(kRelaxed)) {
    deferred_.store(true, kRelaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return;
  }
  arm(running_now());
}

void EvalBreaker::arm_now() {
  set_busy(true);
  arm(running_now());
  leave_critical();
}

void EvalBreaker::suspend() {
  set_busy(true);
  suspended_armed_ = armed_ != nullptr;
  disarm();
}

void EvalBreaker::resume() {
  if (suspended_armed_) arm(running_now());
  suspended_armed_ = false;
  leave_critical();
}

void EvalBreaker::set_running(lua_State* L) {
  set_busy(true);
  running_.store(L, kRelaxed);
  if (armed_ != nullptr && armed_ != L) arm(L);  // the break follows
  leave_critical();
}

void EvalBreaker::on_hook(lua_State* L, lua_Debug* ar) {
  set_busy(true);
  SavedHook user;
  if (armed_ == L) {
    user = saved_;
    disarm();
  } else {
    lua_sethook(L, nullptr, 0, 0);  // a stray copy of our hook
  }
  leave_critical();
  // Forward the event to the script's own hook if it asked for this kind.
  const int event_mask =
      ar->event == LUA_HOOKTAILCALL ? LUA_MASKCALL : 1 << ar->event;
  if (user.fn != nullptr && ar->event != LUA_HOOKCOUNT &&
      (user.mask & event_mask) != 0) {
    user.fn(L, ar);
  }
  const bool interrupted = handler_ != nullptr && handler_(context_);
  if (periodic_.load(kRelaxed) > 0) arm_now();  // the ticks policy's next check
  if (interrupted) luaL_error(L, "interrupted");  // nothing with a destructor is live here
}

}  // namespace gilrun
