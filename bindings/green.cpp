// green.cpp — the `green` module: green threads (runtime/green/green_thread.h,
// runtime/green/hub.h), gevent's API in Lua.
//
//   local g = green.spawn(fn, ...)     -- runs when the spawner next blocks
//   g:join([timeout]) --> fn's results | nil, "timeout" | nil, "killed"
//                         (raises fn's error, with its traceback)
//   g:kill()          -- raises "killed" in g at its next switch point
//   g:dead(), g.id
//   green.joinall(list [, timeout]) --> true | nil, "timeout"
//   green.yield()                      -- let the other green threads run
//   green.sleep(seconds)               -- time.sleep, for gevent habits
//   green.current()                    -- the running green thread, or nil
//   local p = green.pool(n)            -- at most n members alive at once
//   p:spawn(fn, ...)  --> handle (waits while the pool is full)
//   p:join([timeout]) --> true | nil, "timeout"
//
// Every wait goes through wait_list.h, so these work from a green thread
// (switch to the hub) and from an OS thread's own code (which runs its hub
// while it waits) alike.
#include <memory>
#include <string_view>

#include "core.h"
#include "green/green_thread.h"
#include "green/hub.h"
#include "support.h"

namespace gilrun {
namespace {

constexpr const char* kHandle = "gilrun.green";
constexpr const char* kPool = "gilrun.green.pool";

// A handle's user value 1 is the green thread's lua_State (its results;
// run_record.h). `g` is null only in a handle whose spawn failed.
struct GreenHandle {
  std::shared_ptr<GreenThread> g;
};

struct Pool {
  lua_Integer size;
  std::shared_ptr<GreenGroup> group = std::make_shared<GreenGroup>();
};

GreenThread& check_green(lua_State* L, int arg) {
  return *check_object<GreenHandle>(L, arg, kHandle)->g;
}

void push_handle(lua_State* L, std::shared_ptr<GreenThread> g) {
  new_object<GreenHandle>(L, kHandle, 1, GreenHandle{std::move(g)});
}

// spawn() starts the function at `first` (arguments above it) and leaves
// its handle there, in place of them all.
GreenThread& spawn(lua_State* L, ThreadState& ts, int first) {
  if (!is_callable(L, first)) luaL_typeerror(L, first, "function");
  // The handle first: making it may raise (out of memory) while nothing has
  // started; spawn_green() then raises nothing once the green thread exists.
  auto* h = new_object<GreenHandle>(L, kHandle, 1);
  lua_insert(L, first);
  h->g = spawn_green(ts, L, first + 1);  // pushes its lua_State, or the error
  if (!h->g) lua_error(L);
  lua_setiuservalue(L, first, 1);
  return *h->g;
}

int green_spawn(lua_State* L) {
  spawn(L, current_thread(L), 1);
  return 1;
}

int green_join(lua_State* L) {
  GreenThread& g = check_green(L, 1);
  const auto timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  if (current_green(ts) == &g) return luaL_error(L, "a green thread cannot join itself");
  const WaitStatus status = join_run(ts, g, deadline_after(timeout));
  if (status != WaitStatus::ready) return push_wait_result(L, status);
  if (g.killed) return push_fail(L, "killed");
  return push_results(L, 1, g);
}

int green_kill(lua_State* L) {
  GreenThread& g = check_green(L, 1);
  if (current_green(current_thread(L)) == &g) {
    g.kill_pending = true;
    return luaL_error(L, "killed");
  }
  kill_green(g);
  return 0;
}

int green_dead(lua_State* L) {
  lua_pushboolean(L, check_green(L, 1).done);
  return 1;
}

int green_index(lua_State* L) {
  GreenThread& g = check_green(L, 1);
  if (std::string_view(luaL_checkstring(L, 2)) == "id") {
    lua_pushinteger(L, static_cast<lua_Integer>(g.id));
  } else {
    luaL_getmetatable(L, kHandle);
    lua_getfield(L, -1, lua_tostring(L, 2));
  }
  return 1;
}

int green_tostring(lua_State* L) {
  GreenThread& g = check_green(L, 1);
  lua_pushfstring(L, "green thread #%d (%s)", static_cast<int>(g.id),
                  g.done ? "dead" : "alive");
  return 1;
}

int green_eq(lua_State* L) {
  lua_pushboolean(L, &check_green(L, 1) == &check_green(L, 2));
  return 1;
}

int green_gc(lua_State* L) {
  auto* h = static_cast<GreenHandle*>(lua_touserdata(L, 1));
  if (h->g && h->g->done) report_unjoined_failure(core_of(L), *h->g);
  h->~GreenHandle();
  return 0;
}

int green_joinall(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const auto timeout = opt_timeout(L, 2);
  const lua_Integer n = luaL_len(L, 1);
  for (lua_Integer i = 1; i <= n; ++i) {  // check them all before waiting
    lua_rawgeti(L, 1, i);
    luaL_argexpected(L, luaL_testudata(L, -1, kHandle), 1, "list of green threads");
    lua_pop(L, 1);
  }
  ThreadState& ts = current_thread(L);
  const Deadline deadline = deadline_after(timeout);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, 1, i);
    GreenThread& g = check_green(L, -1);
    lua_pop(L, 1);  // the list keeps it
    if (current_green(ts) == &g) continue;
    const WaitStatus status = wait_for_end(ts, g, deadline);
    if (status != WaitStatus::ready) return push_wait_result(L, status);
  }
  return push_wait_result(L, WaitStatus::ready);
}

int green_yield(lua_State* L) {
  ThreadState& ts = current_thread(L);
  if (Hub::active(ts) && Hub::of(ts).yield() == WaitStatus::interrupted) raise_interrupted(L);
  return 0;
}

int green_sleep(lua_State* L) {
  const double seconds = luaL_checknumber(L, 1);
  luaL_argcheck(L, seconds >= 0, 1, "sleep length must not be negative");
  ThreadState& ts = current_thread(L);
  if (seconds == 0) return green_yield(L);
  return sleep_for(L, ts, seconds);
}

int green_current(lua_State* L) {
  GreenThread* g = current_green(current_thread(L));
  if (g == nullptr) {
    lua_pushnil(L);
    return 1;
  }
  push_handle(L, g->self);
  if (push_run_thread(L, *g)) lua_setiuservalue(L, -2, 1);  // anchored while it runs
  return 1;
}

// --- pools -----------------------------------------------------------------

Pool& check_pool(lua_State* L) { return *check_object<Pool>(L, 1, kPool); }

int green_pool(lua_State* L) {
  const lua_Integer size = luaL_checkinteger(L, 1);
  luaL_argcheck(L, size >= 1, 1, "a pool holds at least 1 green thread");
  new_object<Pool>(L, kPool, 0, Pool{size});
  return 1;
}

int pool_spawn(lua_State* L) {
  Pool& pool = check_pool(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  ThreadState& ts = current_thread(L);
  GreenGroup& group = *pool.group;
  const WaitStatus room =
      wait_until(ts, group.changed, std::nullopt, [&] { return group.active < pool.size; });
  if (room != WaitStatus::ready) return push_wait_result(L, room);
  GreenThread& g = spawn(L, ts, 2);
  g.group = pool.group;
  ++group.active;
  return 1;
}

int pool_join(lua_State* L) {
  Pool& pool = check_pool(L);
  const auto timeout = opt_timeout(L, 2);
  GreenGroup& group = *pool.group;
  const WaitStatus status = wait_until(current_thread(L), group.changed, deadline_after(timeout),
                                       [&] { return group.active == 0; });
  return push_wait_result(L, status);
}

int pool_size(lua_State* L) {
  lua_pushinteger(L, check_pool(L).group->active);
  return 1;
}

}  // namespace

int luaopen_green(lua_State* L) {
  static const luaL_Reg methods[] = {{"join", green_join},         {"kill", green_kill},
                                     {"dead", green_dead},         {"__tostring", green_tostring},
                                     {"__eq", green_eq},           {nullptr, nullptr}};
  define_class(L, kHandle, methods, green_gc);
  luaL_getmetatable(L, kHandle);
  lua_pushcfunction(L, green_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  static const luaL_Reg pool_methods[] = {
      {"spawn", pool_spawn}, {"join", pool_join}, {"size", pool_size}, {nullptr, nullptr}};
  define_class(L, kPool, pool_methods, destroy_object<Pool>);
  static const luaL_Reg functions[] = {
      {"spawn", green_spawn}, {"joinall", green_joinall}, {"yield", green_yield},
      {"sleep", green_sleep}, {"current", green_current}, {"pool", green_pool},
      {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace gilrun
