// pool.cpp — process.pool: a fixed set of worker processes running
// tasks (Python's multiprocessing.Pool).
//
//   local pool = process.pool([n = process.cpu_count()])
//   local pool = process.pool{n, start = "forkserver" | "spawn"}  (module.cpp)
//   pool:map(fn, list) --> {fn(list[1]), fn(list[2]), ...}   (order kept;
//                          raises the first failed item's error)
//   pool:submit(fn, ...) --> future;  future:result([timeout]) --> fn's
//                          results | nil, "timeout" (raises fn's error, as
//                          p:join() does)
//   future:done(), future:traceback() --> the task's traceback if it failed
//   pool:completed() --> how many tasks have finished (or failed) so far
//   pool:wait_completed(n [, timeout]) --> true once more than n have
//                          | nil, "timeout"   (what `futures` collects with)
//   pool:close()   no more tasks;   pool:join()   wait for every task, then
//                                                 stop the workers
//
// Notes on the design
// -------------------
// There is no result-handler thread (CPython has three helper threads per
// pool). The pool's state — pending tasks, which worker runs what — lives in
// plain fields guarded by the GIL, and it is driven by whoever waits: a thread
// in future:result() or pool:join() becomes the *pumper*. It waits in
// FdGroup::wait() (one epoll descriptor over every worker's socket, waited on
// with wait_fd: GIL released, green threads yield, Ctrl-C ends it), reads the
// replies that arrived, completes their tasks and hands each free worker the
// next pending task. Other waiters park on the pool's `progress` list; the
// pumper wakes them all after every round, and one of them takes over the
// pumping if its own task is not done yet.
//
// Both ends stay awake briefly before they sleep (io_wait.h's spin): the
// pumper for up to kReplySpin each time it waits, polling the epoll
// descriptor with the GIL released, and a worker for its own spin after
// each reply it sent (entry.cpp). An empty task's round trip is a few
// microseconds of work on each side, while waking a process that sleeps
// in poll() or read() costs 10-30 us on these VMs, twice per round trip:
// futures.process_pool's went from 36 to 11 us (README, Futures). A wait
// that lasts longer than the spin pays it once and then sleeps as before;
// a worker that dies during the spin is seen as readable (end of file)
// like any other.
//
// Beside the GIL's own spin (gil.h, front_spin): the pumper spins with the
// GIL released, so a thread queued for the GIL takes it meanwhile; taking
// it back after the reply may then spin as the GIL's front waiter, up to
// 100 us more and never past the switch interval. So a round of waiting
// is awake for 150 us at most, and every spin yields the CPU every few
// polls, so on 2 cores the workers' computing still runs (README, Futures:
// no cost to the parallel figures).
//
// A worker that dies (killed, crashed, os.exit) shows up as end of file on
// its socket. Its task fails with an error saying how the worker ended
// ("pool worker 4242 was killed by SIGKILL while running this task"), the
// worker is reaped and replaced, and the pool goes on: no task waits for a
// dead worker, so the pool never hangs. If no replacement can start and no
// worker is left, the pending tasks fail too.
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>

#include <sys/socket.h>

#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "wait/fd_group.h"
#include "process/modules.h"
#include "process/worker.h"
#include "support.h"
#include "codec/value_codec.h"

namespace gilrun {
namespace {

constexpr const char* kPool = "gilrun.process.pool";
constexpr const char* kFuture = "gilrun.process.future";
constexpr auto kExitGrace = std::chrono::seconds(1);  // EOF -> exit, before SIGKILL
constexpr auto kReplySpin = std::chrono::microseconds(50);  // see the notes

struct Task {
  std::string frame;
  bool done = false;
  bool replied = false;
  Frame reply;
  std::string failure;  // when the worker died
  pid_t pid = 0;        // the worker that ran it
  bool error_read = false;  // `traceback` was taken from the reply
  std::string traceback;    // of the task's error
};
using TaskPtr = std::shared_ptr<Task>;

struct Slot {
  std::unique_ptr<Worker> worker;
  TaskPtr task;  // running, or null
};

struct PoolState {
  std::vector<Slot> slots;
  std::deque<TaskPtr> pending;
  FdGroup group;
  WaitList progress;
  bool pumping = false;
  bool closed = false;
  lua_Integer completed = 0;  // tasks done so far (pool:completed())
  std::string start_error;  // why a worker could not be (re)started
  StartMethod start = StartMethod::forkserver;
};
using PoolPtr = std::shared_ptr<PoolState>;

struct Pool {
  PoolPtr state;
};
struct Future {
  PoolPtr pool;
  TaskPtr task;
};

bool start_slot(lua_State* L, ThreadState& ts, PoolState& pool, size_t i) {
  Slot& slot = pool.slots[i];
  slot.worker = start_worker(L, ts, pool.start, &pool.start_error);
  if (!slot.worker) return false;
  pool.group.add(slot.worker->fd, EPOLLIN, i);
  return true;
}

void fail_pending_if_no_worker(PoolState& pool) {
  for (const Slot& slot : pool.slots)
    if (slot.worker) return;
  for (const TaskPtr& task : pool.pending) {
    task->failure = "cannot start a pool worker: " + pool.start_error;
    task->done = true;
    ++pool.completed;
  }
  pool.pending.clear();
}

// bury() reaps a worker whose socket ended, fails its task, replaces it.
void bury(lua_State* L, ThreadState& ts, PoolState& pool, size_t i) {
  Slot& slot = pool.slots[i];
  ChildProcess& child = *slot.worker->child;
  pool.group.remove(slot.worker->fd);
  if (!child.try_reap()) {
    wait_fd(ts, child.pidfd(), POLLIN, Clock::now() + kExitGrace);
    if (!child.try_reap()) child.send_signal(SIGKILL);
    with_gil_released(ts, [&] { child.reap(); });
  }
  if (slot.task) {
    slot.task->failure = "pool worker " + std::to_string(child.pid()) + " " +
                         exit_text(child.exit_code()) + " while running this task";
    slot.task->done = true;
    ++pool.completed;
    slot.task.reset();
  }
  slot.worker.reset();
  if (!pool.closed || !pool.pending.empty()) start_slot(L, ts, pool, i);
  fail_pending_if_no_worker(pool);
}

// dispatch() gives pending tasks to idle workers. A worker whose socket
// refuses the task died while idle (killed, OOM killer: the end of file is
// seen only at the next wait): the task goes back to the front of the line
// and the worker is replaced, once per slot and round — a replacement that
// dies at once too is buried by the next pump like any other.
void dispatch(lua_State* L, ThreadState& ts, PoolState& pool) {
  for (size_t i = 0; i < pool.slots.size() && !pool.pending.empty(); ++i) {
    for (bool replaced = false;;) {
      Slot& slot = pool.slots[i];
      if (!slot.worker || slot.task) break;
      TaskPtr task = pool.pending.front();
      pool.pending.pop_front();
      std::string error;
      send_frame(ts, slot.worker->fd, task->frame, std::nullopt, &error);
      if (error.empty() || replaced) {  // a late failure shows up as end of file
        task->pid = slot.worker->child->pid();
        slot.task = std::move(task);
        break;
      }
      pool.pending.push_front(std::move(task));
      bury(L, ts, pool, i);
      replaced = true;
    }
  }
}

// pump() handles the workers whose sockets are ready, reading one frame
// each at most: a worker owes one reply per task, so a read that would
// only say "nothing more" is not made. Its end of file keeps the socket
// ready for the next round; bytes after the reply are talk out of turn.
void pump(lua_State* L, ThreadState& ts, PoolState& pool, const std::vector<uint64_t>& ready) {
  for (uint64_t i : ready) {
    Slot& slot = pool.slots[i];
    if (!slot.worker) continue;
    Frame frame;
    const FrameReader::Result r = slot.worker->reader.read(slot.worker->fd, &frame);
    if (r == FrameReader::need_more) continue;
    if (r != FrameReader::got_frame || !slot.task) {  // gone (or talking out of turn)
      bury(L, ts, pool, i);
      continue;
    }
    slot.task->reply = std::move(frame);
    slot.task->replied = true;
    slot.task->done = true;
    ++pool.completed;
    slot.task.reset();
    if (slot.worker->reader.buffered()) bury(L, ts, pool, i);
  }
  dispatch(L, ts, pool);
}

// wait_pool() drives the pool until `finished()` (see the notes).
template <class Finished>
WaitStatus wait_pool(lua_State* L, ThreadState& ts, PoolState& pool, const Deadline& deadline,
                     Finished&& finished) {
  while (!finished()) {
    if (pool.pumping) {
      const WaitStatus status = park_on(ts, pool.progress, deadline);
      if (status != WaitStatus::ready && !finished()) return status;
      continue;
    }
    pool.pumping = true;
    std::vector<uint64_t> ready;
    const WaitStatus status = pool.group.wait(ts, deadline, &ready, kReplySpin);
    if (status == WaitStatus::ready) pump(L, ts, pool, ready);
    pool.pumping = false;
    pool.progress.wake_all();
    if (status != WaitStatus::ready && !finished()) return status;
  }
  return WaitStatus::ready;
}

bool idle(const PoolState& pool) {
  if (!pool.pending.empty()) return false;
  for (const Slot& slot : pool.slots)
    if (slot.task) return false;
  return true;
}

// push_outcome() pushes a finished task's results (count) or its error (-1).
int push_outcome(lua_State* L, Task& task) {
  if (task.replied) {
    const int n = push_reply(L, task.reply, task.pid, &task.traceback);
    task.error_read = n < 0;
    return n;
  }
  lua_pushstring(L, task.failure.c_str());
  return -1;
}

TaskPtr submit_frame(lua_State* L, ThreadState& ts, PoolState& pool, std::string frame) {
  auto task = std::make_shared<Task>();
  task->frame = std::move(frame);
  pool.pending.push_back(task);
  fail_pending_if_no_worker(pool);
  dispatch(L, ts, pool);
  return task;
}

PoolState& check_open_pool(lua_State* L) {
  PoolState& pool = *check_object<Pool>(L, 1, kPool)->state;
  if (pool.closed) luaL_error(L, "the pool is closed");
  return pool;
}

// ---- Lua

// pool_new(n) or pool_new{n, start = method} ({n = n, ...} works too).
int pool_new(lua_State* L) {
  lua_Integer n = 0;
  StartMethod method;
  if (lua_type(L, 1) == LUA_TTABLE) {
    for (lua_pushnil(L); lua_next(L, 1) != 0;) {
      lua_pop(L, 1);  // the value
      const bool first = lua_isinteger(L, -1) && lua_tointeger(L, -1) == 1;
      const char* key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
      if (!first && !(key && (std::strcmp(key, "n") == 0 || std::strcmp(key, "start") == 0)))
        return luaL_error(L, "process.pool: unknown option '%s' (the options are n, start)",
                          key ? key : luaL_typename(L, -1));
    }
    if (lua_rawgeti(L, 1, 1) == LUA_TNIL) {
      lua_pop(L, 1);
      lua_getfield(L, 1, "n");
    }
    if (!lua_isnil(L, -1) && !lua_isinteger(L, -1))
      return luaL_error(L, "process.pool: n must be an integer, not a %s", luaL_typename(L, -1));
    n = lua_tointeger(L, -1);
    lua_getfield(L, 1, "start");
    method = check_start_method(L, -1);
    lua_pop(L, 2);
  } else {
    n = luaL_optinteger(L, 1, 0);
    lua_pushnil(L);
    method = check_start_method(L, -1);
    lua_pop(L, 1);
  }
  luaL_argcheck(L, n >= 0 && n <= 1024, 1, "worker count must be 1 .. 1024");
  if (n == 0) {
    lua_getfield(L, lua_upvalueindex(1), "cpu_count");
    lua_call(L, 0, 1);
    n = lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  ThreadState& ts = current_thread(L);
  auto* pool = new_object<Pool>(L, kPool, 0);
  pool->state = std::make_shared<PoolState>();
  PoolState& state = *pool->state;
  state.start = method;
  state.slots.resize(static_cast<size_t>(n));
  bool ok = state.group.valid();
  for (size_t i = 0; ok && i < state.slots.size(); ++i) ok = start_slot(L, ts, state, i);
  if (ok) return 1;
  lua_pushfstring(L, "process.pool: cannot start a worker: %s", state.start_error.c_str());
  return lua_error(L);
}

int pool_submit(lua_State* L) {
  PoolState& pool = check_open_pool(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  ThreadState& ts = current_thread(L);
  auto* future = new_object<Future>(L, kFuture, 0);
  future->pool = check_object<Pool>(L, 1, kPool)->state;
  bool ok;
  {
    std::string frame, error;
    ok = task_frame(L, 2, lua_gettop(L) - 3, &frame, &error);  // the future is on top
    if (ok) {
      future->task = submit_frame(L, ts, pool, std::move(frame));
    } else {
      lua_pushfstring(L, "pool:submit: %s", error.c_str());
    }
  }
  if (!ok) return lua_error(L);
  return 1;
}

// task_frame() wants fn and its args together: map pushes (fn, item).
int pool_map(lua_State* L) {
  PoolState& pool = check_open_pool(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_checktype(L, 3, LUA_TTABLE);
  ThreadState& ts = current_thread(L);
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, 3));
  int outcome = 0;  // -1: raise the top; -2: Ctrl-C
  {
    PoolPtr keep = check_object<Pool>(L, 1, kPool)->state;  // alive while we wait
    std::vector<TaskPtr> tasks;
    std::string frame, error;
    for (lua_Integer i = 1; outcome == 0 && i <= n; ++i) {
      lua_pushvalue(L, 2);
      lua_rawgeti(L, 3, i);
      if (task_frame(L, lua_gettop(L) - 1, 1, &frame, &error)) {
        tasks.push_back(submit_frame(L, ts, pool, std::move(frame)));
      } else {
        lua_pushfstring(L, "pool:map: item %d: %s", static_cast<int>(i), error.c_str());
        outcome = -1;
      }
      if (outcome == 0) lua_pop(L, 2);
    }
    if (outcome == 0) lua_createtable(L, static_cast<int>(n), 0);
    for (lua_Integer i = 1; outcome == 0 && i <= n; ++i) {
      Task& task = *tasks[size_t(i - 1)];
      const WaitStatus status = wait_pool(L, ts, pool, std::nullopt, [&] { return task.done; });
      if (status != WaitStatus::ready) {
        outcome = -2;
        break;
      }
      const int count = push_outcome(L, task);
      if (count < 0) {
        outcome = -1;
        break;
      }
      if (count == 0) continue;
      lua_settop(L, lua_gettop(L) - count + 1);  // keep the first result
      lua_rawseti(L, -2, i);
    }
  }
  if (outcome == -2) raise_interrupted(L);
  if (outcome == -1) return lua_error(L);
  return 1;
}

int pool_close(lua_State* L) {
  check_object<Pool>(L, 1, kPool)->state->closed = true;
  return 0;
}

int pool_join(lua_State* L) {
  PoolPtr pool = check_object<Pool>(L, 1, kPool)->state;
  ThreadState& ts = current_thread(L);
  const WaitStatus status = wait_pool(L, ts, *pool, std::nullopt, [&] { return idle(*pool); });
  if (status == WaitStatus::interrupted) {
    pool.reset();
    raise_interrupted(L);
  }
  // Every task is done: end of file tells each worker to exit; reap them.
  for (Slot& slot : pool->slots) {
    if (!slot.worker) continue;
    pool->group.remove(slot.worker->fd);
    shutdown(slot.worker->fd, SHUT_WR);
    ChildProcess& child = *slot.worker->child;
    while (!child.try_reap() &&
           wait_fd(ts, child.pidfd(), POLLIN, std::nullopt) == WaitStatus::ready) {}
    slot.worker.reset();  // kills and reaps if Ctrl-C cut the wait short
  }
  pool->closed = true;
  return 0;
}

int pool_completed(lua_State* L) {
  lua_pushinteger(L, check_object<Pool>(L, 1, kPool)->state->completed);
  return 1;
}

// pool_wait_completed() drives the pool until more than n tasks have
// finished, whichever they are: how to hear of completions without polling
// (the futures module's collectors wait here).
int pool_wait_completed(lua_State* L) {
  Pool* pool = check_object<Pool>(L, 1, kPool);
  const lua_Integer n = luaL_checkinteger(L, 2);
  const auto timeout = opt_timeout(L, 3);
  ThreadState& ts = current_thread(L);
  WaitStatus status;
  {
    PoolPtr keep = pool->state;  // alive while we wait
    status = wait_pool(L, ts, *keep, deadline_after(timeout), [&] { return keep->completed > n; });
  }
  return push_wait_result(L, status);
}

int future_result(lua_State* L) {
  Future* f = check_object<Future>(L, 1, kFuture);
  const auto timeout = opt_timeout(L, 2);
  ThreadState& ts = current_thread(L);
  Task& task = *f->task;
  const WaitStatus status =
      wait_pool(L, ts, *f->pool, deadline_after(timeout), [&] { return task.done; });
  if (status != WaitStatus::ready) return push_wait_result(L, status);
  const int count = push_outcome(L, task);
  if (count < 0) return lua_error(L);
  return count;
}

// future_traceback() is the failed task's traceback (nil if it has not
// failed, or failed without one: a worker that died); it does not wait.
int future_traceback(lua_State* L) {
  Task& task = *check_object<Future>(L, 1, kFuture)->task;
  if (task.done && task.replied && task.reply.kind == 'E' && !task.error_read) {
    push_outcome(L, task);  // decodes the error once, for its traceback
    lua_pop(L, 1);
  }
  if (task.traceback.empty()) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, task.traceback.data(), task.traceback.size());
  }
  return 1;
}

int future_done(lua_State* L) {
  lua_pushboolean(L, check_object<Future>(L, 1, kFuture)->task->done);
  return 1;
}

}  // namespace

void add_pool_functions(lua_State* L) {
  static const luaL_Reg pool_methods[] = {{"map", pool_map},     {"submit", pool_submit},
                                          {"close", pool_close}, {"join", pool_join},
                                          {"completed", pool_completed},
                                          {"wait_completed", pool_wait_completed},
                                          {nullptr, nullptr}};
  define_class(L, kPool, pool_methods, destroy_object<Pool>);
  static const luaL_Reg future_methods[] = {
      {"result", future_result}, {"done", future_done}, {"traceback", future_traceback},
      {nullptr, nullptr}};
  define_class(L, kFuture, future_methods, destroy_object<Future>);
  lua_pushvalue(L, -1);  // the module table, for process.cpu_count
  lua_pushcclosure(L, pool_new, 1);
  lua_setfield(L, -2, "pool");
}

}  // namespace gilrun
