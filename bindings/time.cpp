// time.cpp — the `time` module.
//
//   time.sleep(seconds)   -- releases the GIL while sleeping (0: just yield it)
//   time.monotonic()      -- seconds on a clock that never jumps
//   time.now()            -- seconds since the Unix epoch
//   time.cpu()            -- CPU seconds used by the whole process
#include <sched.h>
#include <time.h>

#include <chrono>

#include "green/hub.h"
#include "support.h"

namespace gilrun {
namespace {

int time_sleep(lua_State* L) {
  const double seconds = luaL_checknumber(L, 1);
  luaL_argcheck(L, seconds >= 0, 1, "sleep length must not be negative");
  ThreadState& ts = current_thread(L);
  if (seconds == 0 && Hub::active(ts)) {  // sleep(0) among green threads: let the others run
    if (Hub::of(ts).yield() == WaitStatus::interrupted) raise_interrupted(L);
    return 0;
  }
  if (seconds == 0) {  // sleep(0): give the GIL to whoever waits, like CPython
    with_gil_released(ts, [] { sched_yield(); });
    return 0;
  }
  return sleep_for(L, ts, seconds);
}

double seconds_of(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

int time_monotonic(lua_State* L) {
  lua_pushnumber(L, seconds_of(CLOCK_MONOTONIC));
  return 1;
}

int time_now(lua_State* L) {
  lua_pushnumber(L, seconds_of(CLOCK_REALTIME));
  return 1;
}

int time_cpu(lua_State* L) {
  lua_pushnumber(L, seconds_of(CLOCK_PROCESS_CPUTIME_ID));
  return 1;
}

}  // namespace

int luaopen_time(lua_State* L) {
  static const luaL_Reg functions[] = {{"sleep", time_sleep},
                                       {"monotonic", time_monotonic},
                                       {"now", time_now},
                                       {"cpu", time_cpu},
                                       {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace gilrun
