#include "run_record.h"

#include <lua.hpp>

#include <new>
#include <string>

#include "protected_call.h"
#include "report.h"

namespace gilrun {

static_assert(RunRecord::kNoRef == LUA_NOREF);

lua_State* new_run_thread(lua_State* L, int first, int extra, int* anchor) {
  const int n = lua_gettop(L) - first + 1;  // the function and its arguments
  lua_State* T = lua_newthread(L);
  *anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  if (!lua_checkstack(T, n + extra)) {
    release_run_thread(L, anchor);
    return nullptr;
  }
  lua_xmove(L, T, n);
  return T;
}

void release_run_thread(lua_State* L, int* anchor) {
  luaL_unref(L, LUA_REGISTRYINDEX, *anchor);
  *anchor = LUA_NOREF;
}

bool push_run_thread(lua_State* L, const RunRecord& run) {
  if (run.anchor == LUA_NOREF) return false;
  lua_rawgeti(L, LUA_REGISTRYINDEX, run.anchor);
  return true;
}

void fail_run(RunRecord& run, lua_State* T, int status, std::string traceback) {
  RunResult r = describe_error(T, status);  // the value stays for join()
  if (r.traceback.empty()) r.traceback = std::move(traceback);
  run.failed = true;
  run.error_text = r.text();
}

void end_run(RunRecord& run, lua_State* L) {
  if (run.anchor != LUA_NOREF) release_run_thread(L, &run.anchor);  // the handles keep T now
  run.done = true;
  run.joiners.wake_all();
}

WaitStatus wait_for_end(ThreadState& ts, RunRecord& run, const Deadline& deadline) {
  return wait_until(ts, run.joiners, deadline, [&] { return run.done; });
}

WaitStatus join_run(ThreadState& ts, RunRecord& run, const Deadline& deadline) {
  const WaitStatus status = wait_for_end(ts, run, deadline);
  if (status == WaitStatus::ready) run.joined = true;
  return status;
}

void report_unjoined_failure(const Core& core, RunRecord& run) {
  if (!run.unreported_failure()) return;
  run.reported = true;
  try {  // a __gc calls this: no exception may cross Lua's C frames
    const std::string id = std::to_string(run.id);
    const std::string who = run.kind == RunRecord::Kind::os_thread
                                ? "thread '" + run.name + "' (#" + id + ")"
                                : "green thread #" + id;
    report(core, "gilrun: " + who + " failed and was never joined:\n" + run.error_text);
  } catch (const std::bad_alloc&) {
    // no memory to word it: the report is lost, not the process
  }
}

}  // namespace gilrun
