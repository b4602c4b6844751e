/*
 * gil_blame.cpp — who makes the others wait, by source line.
 *
 * Notes about the implementation
 * ------------------------------
 * The lock (gil.cpp) measures, with its mutex held and without touching
 * Lua: from the first drop request of a holder's tenure to its forced drop
 * (`made_wait`: the time it made others wait beyond their switch interval),
 * and every take that had to wait (`waited`). When the thread holds the GIL
 * again, still on its own OS thread, Gil::take()/yield_if_requested() call
 * attribute() here, which reads the thread's own stack:
 *
 * - A holder is there because the eval breaker's hook stopped it: its
 *   running lua_State's stack is where it was when it let go. If a C
 *   function held the GIL, the hook fired at that function's return (the
 *   breaker's mask has LUA_MASKRET), so the C frame is still on top and the
 *   line is its caller's.
 * - A waiter has not run any Lua since its wait began (a thread runs no Lua
 *   without the GIL), so its stack now is the stack where it began waiting.
 *   Reading it only now, with the GIL, matters: the holder's garbage
 *   collector may shrink a waiter's Lua stack, so reading it while waiting
 *   would race.
 *
 * Nothing here runs while nobody waits. The tables are guarded by the GIL.
 */
#include "blame/gil_blame.h"

#include "thread_state.h"
#include "trace/trace_recorder.h"

namespace gilrun {

void GilBlame::attribute(ThreadState& ts) {
  HandOver& h = ts.hand_over;
  const Site site = capture_site(ts.breaker.running());
  if (h.made_wait.count() > 0) {
    holders_.add(ts.name, site, h.made_wait);
    // The timeline shows it on hover of the forced drop.
    if (ts.trace) {
      ts.trace->record_drop_site(Clock::now(), site.function.empty() ? site.where
                                                : site.where + " (" + site.function + ")");
    }
  }
  if (h.waited.count() > 0) waiters_.add(ts.name, site, h.waited);
  h.made_wait = {};
  h.waited = {};
}

void GilBlame::fill(Stats* stats, size_t n) const {
  stats->holders = holders_.top(n);
  stats->waiters = waiters_.top(n);
  stats->gil_profile.clear();
  holders_.append_stacks(" [held while others waited]", &stats->gil_profile);
  waiters_.append_stacks(" [waited for the GIL]", &stats->gil_profile);
}

}  // namespace gilrun
