/*
 * eval_breaker_signal.cpp — the half of the eval breaker that runs inside the
 * break signal's handler: the handler itself, and what it calls (on_signal,
 * arm, disarm). eval_breaker.cpp has the mechanism's notes and the rest.
 *
 * Notes about ThreadSanitizer
 * ---------------------------
 * This file is compiled without TSan instrumentation in the TSan build
 * (runtime/CMakeLists.txt), and nothing it calls is instrumented: Lua is
 * Debian's uninstrumented liblua5.4.a, and std::atomic's members are always
 * inlined. The reason is where the signal lands. TSan defers asynchronous
 * signals until the thread next calls an intercepted libc function, which a
 * Lua loop never does, so preemption would never happen; it runs the
 * signals it considers synchronous (SIGSEGV, SIGTRAP, ...) at once — and
 * "at once" may be in the middle of TSan's own runtime. The first TSan
 * build used SIGSYS and an instrumented handler: a break that arrived while
 * __tsan_create_fiber was building the new fiber's state ran the handler's
 * __tsan_func_entry on that half-built state and crashed (seen in gdb:
 * GreenModule.QueueBetweenAnOSThreadAndGreenThreads, about one run in four),
 * and SIGSYS additionally makes TSan take a synchronisation lock before the
 * handler (tsan_interceptors_posix.cpp: `acq = (sig == SIGSYS)`), a hang
 * when the interrupted code holds it. So the TSan build uses SIGTRAP
 * (synchronous to TSan, no lock taken, never raised by Lua or by us
 * otherwise) and a handler that never enters TSan's runtime. The handler
 * touches only state its own thread owns, so TSan loses nothing it could
 * have reported.
 */
#include <lua.hpp>
#include <signal.h>

#include <cerrno>
#include <mutex>

#include "gil/eval_breaker.h"

namespace gilrun {
namespace {

#if defined(GILRUN_TSAN_BUILD)
constexpr int kBreakSignal = SIGTRAP;
#else
constexpr int kBreakSignal = SIGURG;
#endif
constexpr int kBreakMask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT;
constexpr auto kRelaxed = std::memory_order_relaxed;

// The breaker bound to the calling OS thread: what the handler arms. The
// runtime is linked statically into the program, so this is initial-exec
// TLS, safe to read from a signal handler.
thread_local EvalBreaker* tls_signal_target = nullptr;

void break_signal_handler(int) {
  const int saved_errno = errno;
  if (EvalBreaker* breaker = tls_signal_target) breaker->on_signal();
  errno = saved_errno;
}

}  // namespace

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

void EvalBreaker::set_signal_target(EvalBreaker* breaker) { tls_signal_target = breaker; }

void EvalBreaker::request_break() {
  if (bound_.load() && !signal_in_flight_.exchange(true)) pthread_kill(owner_, kBreakSignal);
}

// A signal of its own, whatever is in flight: the flag is set before it is
// sent, so the handler that runs for it (or one already running, which the
// new signal follows) reads it.
void EvalBreaker::request_urgent_break() {
  if (!bound_.load()) return;
  urgent_.store(true);
  pthread_kill(owner_, kBreakSignal);
}

lua_State* EvalBreaker::running_now() const {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return running_.load(kRelaxed);
}

void EvalBreaker::on_signal() {
  if (bound_.load(kRelaxed)) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const bool urgent = urgent_.exchange(false);
    if (busy_.load(kRelaxed)) {
      if (urgent) urgent_.store(true, kRelaxed);  // for leave_critical() to read
      deferred_.store(true, kRelaxed);  // armed in leave_critical(), as asked
    } else if (urgent || worth_arming()) {
      arm(running_now());
    }
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  signal_in_flight_.store(false, kRelaxed);
}

// arm() installs the hook even when L already carries it: lua_sethook also
// sets the trap flag of every Lua frame running on L, and the VM can lose
// that flag to a signal. luaG_traceexec reads the hook mask, then clears the
// frame's trap if the mask was empty; a break armed between the two is
// installed but never fires (the frame's loop makes no call that would
// refresh the trap). With ticks' tens of thousands of arms a second this
// happened within seconds, and an early return here made every later
// request a no-op: four spinning threads hung for good.
//
// But setting the traps walks every CallInfo of L: with 200,000 frames of
// recursion one walk took longer than a 50 us switch interval, each new
// request re-signalled and re-walked, and the thread spent all its time in
// this handler (a hang). So a repeated request re-installs only after
// rearm_after_ unanswered ones, a number that doubles up to kMaxRearmAfter
// while the hook keeps not firing and falls back to 1 when it fires: a lost
// break costs one extra request, as before, and a deep stack costs one walk
// per request at first, then ever fewer.
//
// That still left one walk per preemption: with the holder preempted every
// 50 us and a walk of 200,000 frames taking a millisecond or more (longer
// under TSan, whose allocator scatters the CallInfos), Lua's test suite ran
// at a few percent of its speed and timed out in CI (locals.lua's deep
// recursion, LuaTestSuite.interval and .priority, stop 21). So a waiter's
// request arms only once the owner has run, since it last came back from a
// break, kRunPerArming times what the last installation cost it
// (worth_arming()); until then the request passes unarmed and the waiter,
// which asks again every switch interval, is answered a little later. At
// most a fifth of a deep holder's time goes to arming, and a shallow stack
// (an installation costs ~100 ns) never notices. Requests that are not
// repeated (Ctrl-C, the hub's block monitor) are urgent and always arm.
bool EvalBreaker::worth_arming() {
  constexpr uint64_t kRunPerArming = 4;
  lua_State* L = running_now();
  if (L == nullptr || armed_on(L)) return true;  // arm() decides
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const uint64_t ran = ticks_now() - resumed_at_.load(kRelaxed);
  return ran >= kRunPerArming * last_arming_cost_;
}

void EvalBreaker::arm(lua_State* L) {
  constexpr int kMaxRearmAfter = 64;
  if (L == nullptr) return;
  if (armed_on(L)) {
    if (++unanswered_ < rearm_after_) return;
    unanswered_ = 0;
    if (rearm_after_ < kMaxRearmAfter) rearm_after_ *= 2;
  } else {
    disarm();
    saved_.fn = lua_gethook(L);
    saved_.mask = lua_gethookmask(L);
    saved_.count = lua_gethookcount(L);
    if (saved_.fn == break_hook) saved_ = Hook{};  // inherited by newthread
    script_countdown_ = saved_.count;
    armed_ = L;
  }
  install(L);
}

bool EvalBreaker::armed_on(lua_State* L) const {
  return armed_ == L && lua_gethook(L) == break_hook;
}

// install() puts our hook on armed state L: one-shot (count 1, and calls and
// returns, so that a C function holding the VM is stopped as it returns) or
// periodic, plus every event the script's own hook wants, so that the
// script misses none of them while ours stands in for it.
void EvalBreaker::install(lua_State* L) {
  const int periodic = periodic_.load(kRelaxed);
  int mask = periodic > 0 ? LUA_MASKCOUNT : kBreakMask;
  int count = periodic > 0 ? periodic : 1;
  if (saved_.fn != nullptr) {
    mask |= saved_.mask;
    if ((saved_.mask & LUA_MASKCOUNT) != 0 && saved_.count < count) count = saved_.count;
  }
  const uint64_t start = ticks_now();
  lua_sethook(L, break_hook, mask, count);
  last_arming_cost_ = ticks_now() - start;
  arming_ticks_.store(arming_ticks_.load(kRelaxed) + last_arming_cost_, kRelaxed);
  installed_count_ = count;
}

void EvalBreaker::disarm() {
  if (armed_ == nullptr) return;
  // If the script replaced our hook meanwhile (debug.sethook ran between the
  // signal and the next instruction), its new hook is the one to keep.
  if (lua_gethook(armed_) == break_hook) {
    lua_sethook(armed_, saved_.fn, saved_.mask, saved_.count);
  }
  armed_ = nullptr;
  saved_ = Hook{};
  unanswered_ = 0;
  rearm_after_ = 1;
}

}  // namespace gilrun
