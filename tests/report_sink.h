// report_sink.h — for tests whose script waits until the host's sink (
// Options::report or Options::on_green_block) has received a report: the
// sink counts into reports_received, and report_arrived, registered as a host
// function, tells the script whether one has arrived yet. A test sets the
// count to 0 before it starts its interpreter.
#pragma once

#include <lua.hpp>

#include <atomic>

namespace gilrun_test {

inline std::atomic<int> reports_received{0};

// A Lua C function: true once the sink has received a report.
inline int report_arrived(lua_State* L) {
  lua_pushboolean(L, reports_received.load() > 0);
  return 1;
}

}  // namespace gilrun_test
