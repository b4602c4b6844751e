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
#include <limits>
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

// unwound_marker's address is the value a green thread parked without its
// stack yields to body(): it tells that yield from any other.
char unwound_marker;

void end_green(GreenThread& g) {
  end_run(g, g.L);
  if (g.group) {
    --g.group->active;
    g.group->changed.wake_all();
  }
}

// end_with_error() ends a green thread that cannot go on from where its
// lua_State stands (a yielded state: its frames are discarded).
void end_with_error(GreenThread& g, const char* message) {
  lua_State* L = g.L;
  lua_resetthread(L);  // as stdlib_coroutine.cpp's wrap does for a dead coroutine
  lua_settop(L, 0);
  lua_pushstring(L, message);
  fail_run(g, L, LUA_ERRRUN);
  end_green(g);
}

// entry() runs on the green thread's own lua_State, inside lua_resume, with
// the function and its arguments on the stack. Its protected call is
// yieldable, so entry_done() is also the continuation that finishes it
// when the function returns (or fails) after parking without its stack.
int entry_done(lua_State* L, int status, lua_KContext handler) {
  GreenThread& g = *ThreadState::current()->green;
  lua_remove(L, static_cast<int>(handler));
  if (status != LUA_OK && status != LUA_YIELD) {  // LUA_YIELD: returned after a yield
    if (g.kill_pending) {
      g.killed = true;
    } else {
      fail_run(g, L, status);
    }
  }
  return lua_gettop(L);
}

int entry(lua_State* L) {
  const int handler = insert_message_handler(L, lua_gettop(L) - 1, nullptr);
  const int status =
      lua_pcallk(L, lua_gettop(L) - handler - 1, LUA_MULTRET, handler, handler, entry_done);
  return entry_done(L, status, handler);
}

// sleep_resumed() is sleep_unwound()'s continuation. A wake-up before the
// deadline (a stale timer entry's) parks again.
int sleep_resumed(lua_State* L, int, lua_KContext deadline_ticks) {
  GreenThread& g = *ThreadState::current()->green;
  g.hub.end_wait(g);
  if (g.kill_pending) return luaL_error(L, "killed");
  Deadline deadline;
  if (deadline_ticks != std::numeric_limits<lua_KContext>::max()) {
    deadline = Clock::time_point(Clock::duration(deadline_ticks));
  }
  if (!deadline || Clock::now() < *deadline) return sleep_unwound(L, g, deadline);
  return 0;
}

}  // namespace

void GreenThread::body(void* self) {
  auto& g = *static_cast<GreenThread*>(self);
  lua_State* L = g.L;
  int nargs;
  if (g.unwound) {  // woken after parking without its stack: carry on
    g.unwound = false;
    lua_pop(L, 1);  // the marker it yielded; it gets no values back
    nargs = 0;
  } else if (g.kill_pending) {  // killed before it ever ran
    lua_settop(L, 0);
    g.killed = true;
    end_green(g);
    return;
  } else {  // L: [budget state (or nil), entry, function, args...] (spawn_green)
    nargs = lua_gettop(L) - 2;
  }
  int nresults = 0;
  const int status = lua_resume(L, g.budget, nargs, &nresults);
  if (status == LUA_YIELD) {
    if (nresults == 1 && lua_touserdata(L, -1) == &unwound_marker) {
      g.unwound = true;  // parked: the fiber ends here and its stack goes back
      return;
    }
    // coroutine.yield refuses a green thread's own state; a C module's
    // lua_yield there has nobody to yield to.
    end_with_error(g, "attempt to yield across a C-call boundary");
    return;
  }
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

GreenThread* unwindable_green(ThreadState& ts, lua_State* L) {
  GreenThread* g = ts.green;
  if (g == nullptr || g->L != L || g->kill_pending || !lua_isyieldable(L)) return nullptr;
  return g;
}

int sleep_unwound(lua_State* L, GreenThread& g, const Deadline& deadline) {
  g.hub.begin_wait(g, deadline);
  lua_pushlightuserdata(L, &unwound_marker);
  const lua_KContext ticks =
      deadline ? deadline->time_since_epoch().count() : std::numeric_limits<lua_KContext>::max();
  return lua_yieldk(L, 1, ticks, sleep_resumed);
}

bool parked_unwound(lua_State* co) {
  return lua_status(co) == LUA_YIELD && lua_gettop(co) > 0 &&
         lua_touserdata(co, -1) == &unwound_marker;
}

bool restart_green(GreenThread& g) {
  if (g.fiber.restart()) return true;
  g.unwound = false;
  end_with_error(g, "cannot resume a green thread: out of memory");
  return false;
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
  lua_State* budget = lua_tothread(L, -1);  // anchored in the registry for good
  lua_xmove(L, T, 1);
  lua_pushcfunction(T, entry);
  lua_rotate(T, 1, 2);
  auto g = std::make_shared<GreenThread>(*hub, next_green_id++, T, anchor, stack);
  g->budget = budget;
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
