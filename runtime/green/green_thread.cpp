// green_thread.cpp — see green_thread.h. The body below is the whole life of
// a green thread on its fiber: run the function through the one protected
// path, keep the results (or the error) on its lua_State, wake the joiners.
// The fiber gives its stack back as soon as the body has returned.
#include "green/green_thread.h"

#include <lua.hpp>

#include <atomic>
#include <cstdio>
#include <string>

#include "green/hub.h"
#include "protected_call.h"
#include "thread_state.h"

namespace gilrun {
namespace {

std::atomic<uint64_t> next_green_id{1};

void end_green(GreenThread& g) {
  luaL_unref(g.L, LUA_REGISTRYINDEX, g.anchor);  // the handle keeps L now
  g.anchor = LUA_NOREF;
  g.done = true;
  g.joiners.wake_all();
  if (g.group) {
    --g.group->active;
    g.group->changed.wake_all();
  }
}

}  // namespace

void GreenThread::body(void* self) {
  auto& g = *static_cast<GreenThread*>(self);
  if (g.kill_pending) {  // killed before it ever ran
    lua_settop(g.L, 0);
    g.killed = true;
    end_green(g);
    return;
  }
  const int status = protected_call(g.L, lua_gettop(g.L) - 1, LUA_MULTRET);
  if (status != LUA_OK) {
    if (g.kill_pending) {
      g.killed = true;
    } else {
      g.failed = true;
      g.error_text = describe_error(g.L, status).text();  // the value stays for join()
    }
  }
  end_green(g);
}

std::shared_ptr<GreenThread> spawn_green(ThreadState& ts, lua_State* L, int first) {
  std::string error;
  Hub* hub = Hub::start(ts, &error);
  if (hub == nullptr) {
    lua_pushfstring(L, "cannot start green threads: %s", error.c_str());
    return nullptr;
  }
  const int n = lua_gettop(L) - first + 1;  // the function and its arguments
  lua_State* T = lua_newthread(L);
  const int anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_xmove(L, T, n);
  auto g = std::make_shared<GreenThread>(*hub, next_green_id++, T, anchor);
  if (!g->fiber.prepare()) {
    luaL_unref(L, LUA_REGISTRYINDEX, anchor);
    lua_pushliteral(L, "cannot start a green thread: out of memory");
    return nullptr;
  }
  hub->adopt(g);
  lua_rawgeti(L, LUA_REGISTRYINDEX, anchor);  // T, for the handle to keep
  return g;
}

GreenThread* current_green(ThreadState& ts) { return ts.green; }

void kill_green(GreenThread& g) {
  if (g.done || g.kill_pending) return;
  g.kill_pending = true;
  g.hub.schedule(g);
}

bool kill_pending(ThreadState& ts) { return ts.green != nullptr && ts.green->kill_pending; }

void report_unjoined_failure(GreenThread& g) {
  if (!g.failed || g.joined || g.reported) return;
  g.reported = true;
  std::fprintf(stderr, "gilrun: green thread #%llu failed and was never joined:\n%s\n",
               static_cast<unsigned long long>(g.id), g.error_text.c_str());
  std::fflush(stderr);
}

}  // namespace gilrun
