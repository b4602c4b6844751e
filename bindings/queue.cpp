// queue.cpp — the `queue` module: a FIFO between threads (Queue.Queue).
//
//   local q = queue.new([maxsize])     -- 0 or nil: unbounded
//   q:put(v [, timeout]) --> true | nil, "timeout"   (v ~= nil; raises if closed)
//   q:get([timeout])     --> v | nil, "timeout" | nil, "closed"
//   q:size(), q:empty(), q:full(), q:close()
//
// Items are plain Lua values kept in the queue's user-value table (slots
// head..tail-1): every thread shares the VM, so nothing is copied. The queue's
// counters are guarded by the GIL, like everything in sync.cpp.
#include "support.h"

namespace gilrun {
namespace {

constexpr const char* kQueue = "gilrun.queue";

struct Queue {
  explicit Queue(lua_Integer max) : maxsize(max) {}
  const lua_Integer maxsize;  // 0: unbounded
  lua_Integer head = 1;       // next slot to get
  lua_Integer tail = 1;       // next slot to put
  bool closed = false;
  WaitList not_empty;
  WaitList not_full;

  lua_Integer size() const { return tail - head; }
  bool full() const { return maxsize > 0 && size() >= maxsize; }
};

Queue* check_queue(lua_State* L) { return check_object<Queue>(L, 1, kQueue); }

int queue_new(lua_State* L) {
  const lua_Integer maxsize = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, maxsize >= 0, 1, "maxsize must not be negative");
  new_object<Queue>(L, kQueue, 1, maxsize);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

int queue_put(lua_State* L) {
  Queue* q = check_queue(L);
  luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "nil cannot be put into a queue");
  const auto timeout = opt_timeout(L, 3);
  if (q->closed) return luaL_error(L, "put into a closed queue");
  if (q->full()) {
    const WaitStatus status = wait_until(current_thread(L), q->not_full, deadline_after(timeout),
                                         [&] { return !q->full() || q->closed; });
    if (status != WaitStatus::ready) return push_wait_result(L, status);
    if (q->closed) return luaL_error(L, "put into a closed queue");
  }
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, q->tail++);
  q->not_empty.wake_one();
  lua_pushboolean(L, 1);
  return 1;
}

int queue_get(lua_State* L) {
  Queue* q = check_queue(L);
  const auto timeout = opt_timeout(L, 2);
  if (q->size() == 0 && !q->closed) {
    const WaitStatus status = wait_until(current_thread(L), q->not_empty, deadline_after(timeout),
                                         [&] { return q->size() > 0 || q->closed; });
    if (status != WaitStatus::ready) return push_wait_result(L, status);
  }
  if (q->size() == 0) return push_fail(L, "closed");
  lua_getiuservalue(L, 1, 1);
  lua_rawgeti(L, -1, q->head);
  lua_pushnil(L);
  lua_rawseti(L, -3, q->head++);
  if (q->size() == 0) q->head = q->tail = 1;  // keep the slots small
  q->not_full.wake_one();
  return 1;
}

int queue_size(lua_State* L) {
  lua_pushinteger(L, check_queue(L)->size());
  return 1;
}

int queue_empty(lua_State* L) {
  lua_pushboolean(L, check_queue(L)->size() == 0);
  return 1;
}

int queue_full(lua_State* L) {
  lua_pushboolean(L, check_queue(L)->full());
  return 1;
}

int queue_close(lua_State* L) {
  Queue* q = check_queue(L);
  q->closed = true;
  q->not_empty.wake_all();
  q->not_full.wake_all();
  return 0;
}

}  // namespace

int luaopen_queue(lua_State* L) {
  static const luaL_Reg methods[] = {{"put", queue_put},     {"get", queue_get},
                                     {"size", queue_size},   {"empty", queue_empty},
                                     {"full", queue_full},   {"close", queue_close},
                                     {nullptr, nullptr}};
  define_class(L, kQueue, methods, destroy_object<Queue>);
  static const luaL_Reg functions[] = {{"new", queue_new}, {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace gilrun
