// sync.cpp — the `sync` module: locks, conditions, events, semaphores.
//
//   sync.lock()   :acquire([timeout]) :release() :locked()
//   sync.rlock()  the same, re-entrant: the owner may acquire it again
//   sync.condition([lock])  :acquire :release :wait([timeout]) :notify([n]) :notify_all()
//   sync.event()  :set() :clear() :is_set() :wait([timeout])
//   sync.semaphore([n])     :acquire([timeout]) :release([n])
// A wait that times out returns nil, "timeout"; success returns true.
//
// The state of every object here is guarded by the GIL (see wait_list.h):
// only the waits need a WaitList.
#include "support.h"

namespace gilrun {
namespace {

constexpr const char* kLock = "gilrun.lock";
constexpr const char* kRLock = "gilrun.rlock";
constexpr const char* kCondition = "gilrun.condition";
constexpr const char* kEvent = "gilrun.event";
constexpr const char* kSemaphore = "gilrun.semaphore";

// Mutex is both sync.lock (any thread may release it, like Python's Lock)
// and sync.rlock (owner-only, counted).
struct Mutex {
  explicit Mutex(bool reentrant_) : reentrant(reentrant_) {}
  const bool reentrant;
  const void* owner = nullptr;  // the caller() that holds it
  int count = 0;  // recursion depth; 0 means unlocked
  WaitList waiters;
};

Mutex* check_mutex(lua_State* L, int arg) {
  if (auto* m = static_cast<Mutex*>(luaL_testudata(L, arg, kLock))) return m;
  if (auto* m = static_cast<Mutex*>(luaL_testudata(L, arg, kRLock))) return m;
  luaL_typeerror(L, arg, "sync.lock or sync.rlock");
  return nullptr;
}

// caller() is who owns an rlock: the green thread that runs, or else the
// OS thread. Green threads of one OS thread are as separate as OS threads.
const void* caller(const ThreadState& ts) {
  return ts.green != nullptr ? static_cast<const void*>(ts.green) : &ts;
}

WaitStatus mutex_acquire(ThreadState& ts, Mutex& m, const Deadline& deadline) {
  if (m.reentrant && m.owner == caller(ts) && m.count > 0) {
    ++m.count;
    return WaitStatus::ready;
  }
  const WaitStatus status = wait_until(ts, m.waiters, deadline, [&] { return m.count == 0; });
  if (status == WaitStatus::ready) {
    m.owner = caller(ts);
    m.count = 1;
  }
  return status;
}

// mutex_release() returns an error message, or null.
const char* mutex_release(ThreadState& ts, Mutex& m) {
  if (m.count == 0) return "release of an unlocked lock";
  if (m.reentrant && m.owner != caller(ts)) return "cannot release an rlock owned by another thread";
  if (--m.count == 0) {
    m.owner = nullptr;
    m.waiters.wake_one();
  }
  return nullptr;
}

int lock_new(lua_State* L) {
  new_object<Mutex>(L, kLock, 0, false);
  return 1;
}

int rlock_new(lua_State* L) {
  new_object<Mutex>(L, kRLock, 0, true);
  return 1;
}

int mutex_acquire_l(lua_State* L) {
  Mutex* m = check_mutex(L, 1);
  const auto timeout = opt_timeout(L, 2);
  return push_wait_result(L, mutex_acquire(current_thread(L), *m, deadline_after(timeout)));
}

int mutex_release_l(lua_State* L) {
  Mutex* m = check_mutex(L, 1);
  if (const char* error = mutex_release(current_thread(L), *m)) return luaL_error(L, "%s", error);
  return 0;
}

int mutex_locked(lua_State* L) {
  lua_pushboolean(L, check_mutex(L, 1)->count > 0);
  return 1;
}

// Condition: user value 1 is its lock.
struct Condition {
  WaitList waiters;
};

Mutex* condition_lock(lua_State* L, int arg) {
  lua_getiuservalue(L, arg, 1);
  Mutex* m = static_cast<Mutex*>(lua_touserdata(L, -1));
  lua_pop(L, 1);  // the condition's user value keeps the lock alive
  return m;
}

int condition_new(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    rlock_new(L);
  } else {
    check_mutex(L, 1);
    lua_settop(L, 1);
  }
  new_object<Condition>(L, kCondition, 1);
  lua_insert(L, 1);
  lua_setiuservalue(L, 1, 1);
  return 1;
}

int condition_acquire(lua_State* L) {
  check_object<Condition>(L, 1, kCondition);
  Mutex* m = condition_lock(L, 1);
  const auto timeout = opt_timeout(L, 2);
  return push_wait_result(L, mutex_acquire(current_thread(L), *m, deadline_after(timeout)));
}

int condition_release(lua_State* L) {
  check_object<Condition>(L, 1, kCondition);
  if (const char* error = mutex_release(current_thread(L), *condition_lock(L, 1))) {
    return luaL_error(L, "%s", error);
  }
  return 0;
}

int condition_wait(lua_State* L) {
  auto* c = check_object<Condition>(L, 1, kCondition);
  Mutex* m = condition_lock(L, 1);
  const auto timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  if (m->count == 0 || (m->reentrant && m->owner != caller(ts))) {
    return luaL_error(L, "cannot wait on a condition without holding its lock");
  }
  // Release the lock completely, wait for a notify, take it back as it was.
  const int depth = m->count;
  m->count = 1;
  mutex_release(ts, *m);
  const WaitStatus status = park_on(ts, c->waiters, deadline_after(timeout));
  bool interrupted = status == WaitStatus::interrupted;
  WaitStatus relock;
  while ((relock = mutex_acquire(ts, *m, std::nullopt)) == WaitStatus::interrupted) {
    interrupted = true;  // the lock is re-taken before the error is raised
  }
  m->count = depth;
  if (interrupted) raise_interrupted(L);
  return push_wait_result(L, status);
}

int condition_notify(lua_State* L) {
  auto* c = check_object<Condition>(L, 1, kCondition);
  lua_Integer n = luaL_optinteger(L, 2, 1);
  while (n-- > 0 && c->waiters.wake_one()) {
  }
  return 0;
}

int condition_notify_all(lua_State* L) {
  check_object<Condition>(L, 1, kCondition)->waiters.wake_all();
  return 0;
}

struct Event {
  bool flag = false;
  WaitList waiters;
};

int event_new(lua_State* L) {
  new_object<Event>(L, kEvent, 0);
  return 1;
}

int event_set(lua_State* L) {
  auto* e = check_object<Event>(L, 1, kEvent);
  e->flag = true;
  e->waiters.wake_all();
  return 0;
}

int event_clear(lua_State* L) {
  check_object<Event>(L, 1, kEvent)->flag = false;
  return 0;
}

int event_is_set(lua_State* L) {
  lua_pushboolean(L, check_object<Event>(L, 1, kEvent)->flag);
  return 1;
}

int event_wait(lua_State* L) {
  auto* e = check_object<Event>(L, 1, kEvent);
  const auto timeout = opt_timeout(L, 2);
  return push_wait_result(L, wait_until(current_thread(L), e->waiters, deadline_after(timeout),
                                   [&] { return e->flag; }));
}

struct Semaphore {
  explicit Semaphore(lua_Integer v) : value(v) {}
  lua_Integer value;
  WaitList waiters;
};

int semaphore_new(lua_State* L) {
  const lua_Integer value = luaL_optinteger(L, 1, 1);
  luaL_argcheck(L, value >= 0, 1, "initial value must not be negative");
  new_object<Semaphore>(L, kSemaphore, 0, value);
  return 1;
}

int semaphore_acquire(lua_State* L) {
  auto* s = check_object<Semaphore>(L, 1, kSemaphore);
  const auto timeout = opt_timeout(L, 2);
  const WaitStatus status = wait_until(current_thread(L), s->waiters, deadline_after(timeout),
                                       [&] { return s->value > 0; });
  if (status == WaitStatus::ready) --s->value;
  return push_wait_result(L, status);
}

int semaphore_release(lua_State* L) {
  auto* s = check_object<Semaphore>(L, 1, kSemaphore);
  const lua_Integer n = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, n >= 1, 2, "must release at least 1");
  s->value += n;
  for (lua_Integer i = 0; i < n && s->waiters.wake_one(); ++i) {
  }
  return 0;
}

int semaphore_value(lua_State* L) {
  lua_pushinteger(L, check_object<Semaphore>(L, 1, kSemaphore)->value);
  return 1;
}

}  // namespace

int luaopen_sync(lua_State* L) {
  static const luaL_Reg mutex_methods[] = {{"acquire", mutex_acquire_l},
                                           {"release", mutex_release_l},
                                           {"locked", mutex_locked},
                                           {nullptr, nullptr}};
  define_class(L, kLock, mutex_methods, destroy_object<Mutex>);
  define_class(L, kRLock, mutex_methods, destroy_object<Mutex>);
  static const luaL_Reg condition_methods[] = {{"acquire", condition_acquire},
                                               {"release", condition_release},
                                               {"wait", condition_wait},
                                               {"notify", condition_notify},
                                               {"notify_all", condition_notify_all},
                                               {nullptr, nullptr}};
  define_class(L, kCondition, condition_methods, destroy_object<Condition>);
  static const luaL_Reg event_methods[] = {{"set", event_set},
                                           {"clear", event_clear},
                                           {"is_set", event_is_set},
                                           {"wait", event_wait},
                                           {nullptr, nullptr}};
  define_class(L, kEvent, event_methods, destroy_object<Event>);
  static const luaL_Reg semaphore_methods[] = {{"acquire", semaphore_acquire},
                                               {"release", semaphore_release},
                                               {"value", semaphore_value},
                                               {nullptr, nullptr}};
  define_class(L, kSemaphore, semaphore_methods, destroy_object<Semaphore>);
  static const luaL_Reg functions[] = {{"lock", lock_new},           {"rlock", rlock_new},
                                       {"condition", condition_new}, {"event", event_new},
                                       {"semaphore", semaphore_new}, {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace gilrun
