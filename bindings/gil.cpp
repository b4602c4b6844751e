// gil.cpp — the `gil` module: look at and tune the global interpreter lock.
//
//   gil.switchinterval([seconds]) --> current (or previous) interval
//   gil.stats()   --> {switches=, drop_requests=, forced_drops=, acquisitions=,
//                      wait_time=, hold_time=, longest_wait=, elapsed=,
//                      threads = {[id] = {name=, acquisitions=, ...}}}
//   gil.policy()  --> "interval", "ticks", "fifo", "priority" or "isolated"
//   gil.hold(seconds)  busy-waits in C for `seconds` WITHOUT releasing the
//                 GIL: it stands for a C extension that forgets to (no other
//                 thread runs meanwhile; see scripts/culprit.lua)
// gil.stats() also has `holders` and `waiters`: {where=, ["function"]=,
// total=, count=, longest=} by source line, longest total first (who held
// the GIL while others waited, and where threads waited for it).
#include <chrono>
#include <vector>

#include "core.h"
#include "support.h"

namespace gilrun {
namespace {

constexpr double kMaxSwitchInterval = 3600;  // seconds, as the command line's flag

int gil_switchinterval(lua_State* L) {
  Gil& gil = current_thread(L).gil();
  const double previous = std::chrono::duration<double>(gil.switch_interval()).count();
  if (!lua_isnoneornil(L, 1)) {
    const double seconds = luaL_checknumber(L, 1);
    luaL_argcheck(L, seconds > 0, 1, "switch interval must be positive");
    // Converted only in range: a double past int64 nanoseconds (1e10 s,
    // math.huge) is undefined behaviour, and came out as 1 ns.
    luaL_argcheck(L, seconds <= kMaxSwitchInterval, 1,
                  "switch interval must be at most 3600 seconds (1 hour)");
    luaL_argcheck(L, seconds >= 1e-9, 1, "switch interval must be at least 1e-9 seconds (1 ns)");
    gil.set_switch_interval(std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9)));
  }
  lua_pushnumber(L, previous);
  return 1;
}

void set_number(lua_State* L, const char* key, double value) {
  lua_pushnumber(L, value);
  lua_setfield(L, -2, key);
}

void set_integer(lua_State* L, const char* key, uint64_t value) {
  lua_pushinteger(L, static_cast<lua_Integer>(value));
  lua_setfield(L, -2, key);
}

// set_figures() sets the fields a whole run and each thread share.
void set_figures(lua_State* L, const GilFigures& f) {
  set_integer(L, "acquisitions", f.acquisitions);
  set_integer(L, "switches", f.switches);
  set_integer(L, "drop_requests", f.drop_requests);
  set_integer(L, "forced_drops", f.forced_drops);
  set_integer(L, "voluntary_drops", f.voluntary_drops);
  set_integer(L, "futile_wakeups", f.futile_wakeups);
  set_integer(L, "awake_takes", f.awake_takes);
  set_number(L, "wait_time", f.wait_time);
  set_number(L, "hold_time", f.hold_time);
  set_number(L, "longest_wait", f.longest_wait);
  set_number(L, "wait_p50", f.wait_p50);
  set_number(L, "wait_p99", f.wait_p99);
}

void set_sites(lua_State* L, const char* key, const std::vector<GilSite>& sites) {
  lua_createtable(L, static_cast<int>(sites.size()), 0);
  lua_Integer i = 0;
  for (const GilSite& site : sites) {
    lua_createtable(L, 0, 5);
    lua_pushstring(L, site.where.c_str());
    lua_setfield(L, -2, "where");
    lua_pushstring(L, site.function.c_str());
    lua_setfield(L, -2, "function");
    set_number(L, "total", site.total);
    set_integer(L, "count", site.count);
    set_number(L, "longest", site.longest);
    lua_rawseti(L, -2, ++i);
  }
  lua_setfield(L, -2, key);
}

int gil_stats(lua_State* L) {
  const Stats s = collect_stats(*current_thread(L).core);
  lua_createtable(L, 0, 17);
  set_figures(L, s);
  set_number(L, "gil_load", s.gil_load);
  set_number(L, "switches_per_second", s.switches_per_second);
  lua_pushstring(L, s.policy.c_str());
  lua_setfield(L, -2, "policy");
  set_number(L, "elapsed", s.elapsed);
  set_number(L, "switch_interval", std::chrono::duration<double>(s.switch_interval).count());
  lua_createtable(L, 0, static_cast<int>(s.threads.size()));
  for (const auto& [id, t] : s.threads) {
    lua_createtable(L, 0, 13);
    lua_pushstring(L, t.name.c_str());
    lua_setfield(L, -2, "name");
    lua_pushboolean(L, t.alive);
    lua_setfield(L, -2, "alive");
    set_figures(L, t);
    lua_rawseti(L, -2, static_cast<lua_Integer>(id));
  }
  lua_setfield(L, -2, "threads");
  set_sites(L, "holders", s.holders);
  set_sites(L, "waiters", s.waiters);
  return 1;
}

constexpr double kMaxHold = 3600;  // seconds

// gil_hold() is a C function that keeps the GIL: the eval breaker cannot stop
// it, so every other thread waits until it returns.
int gil_hold(lua_State* L) {
  const double seconds = luaL_checknumber(L, 1);
  luaL_argcheck(L, seconds >= 0 && seconds <= kMaxHold, 1,
                "must be between 0 and 3600 seconds");
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9));
  while (std::chrono::steady_clock::now() < until) {
  }
  return 0;
}

int gil_policy(lua_State* L) {
  lua_pushstring(L, policy_name(current_thread(L).core->gil_settings.policy));
  return 1;
}

}  // namespace

int luaopen_gil(lua_State* L) {
  static const luaL_Reg functions[] = {{"switchinterval", gil_switchinterval},
                                       {"stats", gil_stats},
                                       {"policy", gil_policy},
                                       {"hold", gil_hold},
                                       {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace gilrun
