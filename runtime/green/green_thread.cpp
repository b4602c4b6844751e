// green_thread.cpp — see green_thread.h. The body below is the whole life of
// a green thread on its fiber: run the function through the one protected
// path, keep the results (or the error) on its lua_State, wake the joiners.
// The fiber gives its stack back as soon as the body has returned.
//
// The C-call budget. Lua ends deep C recursion (pcall in pcall, metamethods,
// gsub callbacks, the parser's nesting) with "C stack overflow" after
// LUAI_MAXCCALLS (200) nested C calls, which needs ~600 KiB of stack. A
// green thread's stack is smaller (fiber.h), so its count must start higher:
// the body enters Lua through lua_resume(T, from), whose `from` is the state
// Lua takes the count of nested C calls from (lua_resume sets T's count to
// from's). `from` is a "budget state", parked for good after being resumed
// from a chain of such states, one level deeper each: its count is
// LUAI_MAXCCALLS minus what Fiber::c_levels() says fits. One per VM and
// stack size, made on the first spawn, anchored in the registry. Coroutines
// resumed inside the green thread inherit its count, as they run on its
// stack. With a stack big enough for 200 levels there is no budget state.
#include "green/green_thread.h"

#include <lua.hpp>

#include <atomic>
#include <string>

#include "core.h"
#include "green/hub.h"
#include "protected_call.h"
#include "run_record.h"
#include "thread_state.h"

namespace gilrun {
namespace {

std::atomic<uint64_t> next_green_id{1};

char budget_key;  // registry[&budget_key]: {[stack size] = budget state}

int park_forever(lua_State* L) { return lua_yield(L, 0); }

// push_budget_state() pushes the state whose count of nested C calls is
// `depth`, made (and kept) on first use; nil when depth is 0.
void push_budget_state(lua_State* L, std::size_t stack_size, int depth) {
  if (depth <= 0) {
    lua_pushnil(L);
    return;
  }
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &budget_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
  }
  const auto key = static_cast<lua_Integer>(stack_size);
  if (lua_rawgeti(L, -1, key) == LUA_TTHREAD) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  lua_State* from = nullptr;
  for (int level = 1; level <= depth; ++level) {
    lua_State* next = lua_newthread(L);  // each resume leaves next at from's count + 1
    lua_pushcfunction(next, park_forever);
    int nresults = 0;
    lua_resume(next, from, 0, &nresults);
    if (from != nullptr) lua_remove(L, -2);  // the previous one is no longer needed
    from = next;
  }
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, key);
  lua_remove(L, -2);
}

void end_green(GreenThread& g) {
  end_run(g, g.L);
  if (g.group) {
    --g.group->active;
    g.group->changed.wake_all();
  }
}

// entry() runs on the green thread's own lua_State, inside lua_resume, with
// the function and its arguments on the stack.
int entry(lua_State* L) {
  GreenThread& g = *ThreadState::current()->green;
  const int status = protected_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  if (status != LUA_OK) {
    if (g.kill_pending) {
      g.killed = true;
    } else {
      fail_run(g, L, status);
    }
  }
  return lua_gettop(L);
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
  // L: [budget state (or nil), entry, function, args...] (spawn_green)
  lua_State* L = g.L;
  int nresults = 0;
  const int status = lua_resume(L, lua_tothread(L, 1), lua_gettop(L) - 2, &nresults);
  if (status != LUA_OK) {  // cannot happen: entry catches every error
    g.failed = true;
    g.error_text = lua_isstring(L, -1) ? lua_tostring(L, -1) : "green thread failed";
    lua_replace(L, 1);
    lua_settop(L, 1);
  } else {
    lua_rotate(L, 1, -1);  // drop the budget state from below the results
    lua_pop(L, 1);
  }
  end_green(g);
}

std::shared_ptr<GreenThread> spawn_green(ThreadState& ts, lua_State* L, int first) {
  Hub* hub;
  {
    std::string error;
    hub = Hub::start(ts, &error);
    if (hub == nullptr) {
      lua_pushfstring(L, "cannot start green threads: %s", error.c_str());
      return nullptr;
    }
  }
  // T: the budget state (kept below everything, so the GC keeps it while it
  // is lua_resume's `from`), entry, then the function and its arguments.
  int anchor;
  lua_State* T = new_run_thread(L, first, 2, &anchor);
  if (T == nullptr) {
    lua_settop(L, first - 1);
    lua_pushliteral(L, "cannot start a green thread: out of memory");
    return nullptr;
  }
  const std::size_t stack = ts.core->green_stack;
  push_budget_state(L, stack, kLuaMaxCCalls - 2 - Fiber::c_levels(stack));
  lua_xmove(L, T, 1);
  lua_pushcfunction(T, entry);
  lua_rotate(T, 1, 2);
  auto g = std::make_shared<GreenThread>(*hub, next_green_id++, T, anchor, stack);
  if (!g->fiber.prepare()) {
    release_run_thread(L, &g->anchor);
    g.reset();
    lua_pushliteral(L, "cannot start a green thread: out of memory");
    return nullptr;
  }
  hub->adopt(g);
  push_run_thread(L, *g);  // T, for the handle to keep
  return g;
}

GreenThread* current_green(ThreadState& ts) { return ts.green; }

void kill_green(GreenThread& g) {
  if (g.done || g.kill_pending) return;
  g.kill_pending = true;
  g.hub.schedule(g);
}

bool kill_pending(ThreadState& ts) { return ts.green != nullptr && ts.green->kill_pending; }

}  // namespace gilrun
