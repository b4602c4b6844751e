// hub.cpp — see hub.h for the design. The loop in brief:
//
//   run_root(deadline):                      (on the root's stack, GIL held)
//     until the root is woken / deadline / Ctrl-C:
//       run_ready()       resume each ready green thread once; every
//                         kPollEvery switches, poll libuv without blocking
//       sleep_in_loop()   if nothing is ready: arm the timer for the
//                         earliest deadline, drop the GIL, uv_run(ONCE)
//       collect()         turn libuv's notes and expired deadlines into
//                         schedule() calls
//
// A green thread's wait (green_park, wait_fd) loops on "suspend, then look
// at why I was resumed", so a spurious resume (a stale timer, a kill
// arriving together with a wake) is harmless.
#include "green/hub.h"

#include <poll.h>

#include <lua.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "green/block_monitor.h"
#include "core.h"
#include "green/green_thread.h"
#include "wait/io_wait.h"
#include "thread_state.h"

namespace gilrun {
namespace {

// Ready green threads can keep the loop busy forever; timers and descriptors
// are still looked at every this many switches.
constexpr uint64_t kPollEvery = 256;

bool passed(const Deadline& deadline) { return deadline && Clock::now() >= *deadline; }

uint64_t millis_until(Clock::time_point when) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(when - Clock::now());
  return static_cast<uint64_t>(std::max<int64_t>(left.count(), 0));
}

void on_async(uv_async_t*) {}
// A timer that fires before uv_run() polls must still keep the poll from
// blocking (uv_run(ONCE) runs due timers first, then polls with the next
// timeout, which may be "forever").
void on_timer(uv_timer_t* timer) { uv_stop(timer->loop); }

std::atomic<std::size_t> hubs_open{0};  // Hub::open_hubs()

}  // namespace

// FdWatch is the uv_poll of one descriptor and the waits on it; it lives on
// the heap because uv_close() finishes after the last wait has returned.
struct FdWatch {
  struct Waiter {
    GreenThread* g;  // null: the root
    int events;      // UV_READABLE / UV_WRITABLE
    bool ready = false;
  };
  uv_poll_t handle;
  Hub* hub;
  int fd;
  std::vector<Waiter*> waiters;

  int wanted() const {
    int events = UV_DISCONNECT;
    for (const Waiter* w : waiters) events |= w->events;
    return events;
  }
  // on_ready runs inside uv_run(), maybe without the GIL: it only notes.
  // An error or a hang-up wakes every waiter, so its next I/O call sees it.
  static void on_ready(uv_poll_t* handle, int status, int events) {
    auto* watch = static_cast<FdWatch*>(handle->data);
    for (Waiter* w : watch->waiters) {
      if (w->ready) continue;
      if (status < 0 || (events & (w->events | UV_DISCONNECT)) != 0) {
        w->ready = true;
        watch->hub->noted_.push_back(w->g);
      }
    }
  }
  static void on_closed(uv_handle_t* handle) { delete static_cast<FdWatch*>(handle->data); }
};

Hub::Hub(ThreadState& ts) : ts_(ts), monitor_(ts.core->block_monitor.get()) {}

bool Hub::open(std::string* error) {
  int rc = uv_loop_init(&loop_);
  if (rc != 0) {
    *error = std::strerror(-rc);
    return false;
  }
  rc = uv_async_init(&loop_, &async_, on_async);
  if (rc != 0) {
    *error = std::strerror(-rc);
    uv_loop_close(&loop_);
    return false;
  }
  uv_timer_init(&loop_, &timer_);  // cannot fail
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  if (monitor_) monitor_->watch(this);
  opened_ = true;
  hubs_open.fetch_add(1, std::memory_order_relaxed);
  return true;
}

Hub::~Hub() {
  if (!opened_) return;
  if (monitor_) monitor_->unwatch(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);  // finishes the closes (and pending poll closes)
  uv_loop_close(&loop_);
  hubs_open.fetch_sub(1, std::memory_order_relaxed);
}

std::size_t Hub::open_hubs() { return hubs_open.load(std::memory_order_relaxed); }

Hub* Hub::start(ThreadState& ts, std::string* error) {
  if (Hub* hub = ts.hub.load(std::memory_order_relaxed)) return hub;
  std::unique_ptr<Hub> hub(new Hub(ts));
  if (!hub->open(error)) return nullptr;
  ts.hub.store(hub.get(), std::memory_order_release);
  return hub.release();
}

Hub& Hub::of(ThreadState& ts) { return *ts.hub.load(std::memory_order_relaxed); }

bool Hub::active(const ThreadState& ts) {
  if (ts.green != nullptr) return true;
  const Hub* hub = ts.hub.load(std::memory_order_relaxed);
  return hub != nullptr && hub->alive_ > 0;
}

void destroy_hub(ThreadState& ts) {
  Hub* hub = ts.hub.load(std::memory_order_relaxed);
  if (hub == nullptr) return;
  ts.hub.store(nullptr, std::memory_order_release);
  if (hub->alive() == 0) {
    delete hub;
    return;
  }
  // Green threads are still parked (Ctrl-C ended the wait for them): their
  // fibers cannot be unwound, so the hub stays, on purpose, reachable.
  static auto* abandoned = new std::vector<Hub*>;
  abandoned->push_back(hub);
  if (hub->monitor_) hub->monitor_->unwatch(hub);  // its thread is going away
}

WaitStatus drain_green_threads(ThreadState& ts) {
  Hub* hub = ts.hub.load(std::memory_order_relaxed);
  if (hub == nullptr || hub->alive() == 0) return WaitStatus::ready;
  return hub->drain();
}

void interrupt_hub(ThreadState& ts) {
  if (Hub* hub = ts.hub.load(std::memory_order_acquire)) hub->interrupt();
}

bool Hub::on_hub_thread() const { return ThreadState::current() == &ts_; }

void Hub::interrupt() { uv_async_send(&async_); }

void Hub::adopt(std::shared_ptr<GreenThread> g) {
  GreenThread& ref = *g;
  ref.self = std::move(g);
  ++alive_;
  push_ready(ref);
}

void Hub::push_ready(GreenThread& g) {
  if (g.scheduled) return;
  g.scheduled = true;
  g.next_ready = nullptr;
  if (ready_tail_) ready_tail_->next_ready = &g; else ready_head_ = &g;
  ready_tail_ = &g;
}

GreenThread* Hub::pop_ready() {
  GreenThread* g = ready_head_;
  if (g == nullptr) return nullptr;
  ready_head_ = g->next_ready;
  if (ready_head_ == nullptr) ready_tail_ = nullptr;
  g->scheduled = false;
  return g;
}

void Hub::schedule(GreenThread& g) {
  if (g.done || g.scheduled) return;
  push_ready(g);
  if (!on_hub_thread()) uv_async_send(&async_);
}

void Hub::wake_green(void* g) {
  auto& green = *static_cast<GreenThread*>(g);
  green.hub.schedule(green);
}

void Hub::wake_root(void* hub) {
  auto& self = *static_cast<Hub*>(hub);
  self.root_woken_ = true;
  if (!self.on_hub_thread()) uv_async_send(&self.async_);
}

// --- running green threads (root side) -----------------------------------

void Hub::switch_into(GreenThread& g) {
  if (g.unwound && !restart_green(g)) {  // it could not get a stack back: it has ended
    finish(g);
    return;
  }
  EvalBreaker& breaker = ts_.breaker;
  lua_State* root_running = breaker.running();
  ts_.green = &g;
  breaker.set_running(g.running);
  ++switches_;
  if (monitor_) {
    switch_seq.store(switches_, std::memory_order_relaxed);
    green_since.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
  g.fiber.resume();
  if (monitor_) green_since.store(0, std::memory_order_relaxed);
  ts_.green = nullptr;
  g.running = breaker.running();
  breaker.set_running(root_running);
  if (g.fiber.finished() && !g.unwound) finish(g);  // unwound: parked, stackless
}

void Hub::finish(GreenThread& g) {
  --alive_;
  // A finished green thread still on the run queue (a late kill or wake)
  // is dropped when it is popped.
  if (!g.scheduled) g.self.reset();  // may free g
}

void Hub::run_ready() {
  // One pass over what is ready now; green threads made ready meanwhile run
  // in the next pass, after the root has had a look.
  GreenThread* last = ready_tail_;
  while (GreenThread* g = pop_ready()) {
    const bool was_last = g == last;
    if (g->done) {
      g->self.reset();  // finished while queued
    } else {
      switch_into(*g);
    }
    if (++since_poll_ >= kPollEvery) poll_now();
    if (was_last) break;
  }
}

void Hub::poll_now() {
  since_poll_ = 0;
  uv_run(&loop_, UV_RUN_NOWAIT);
  collect();
}

void Hub::collect() {
  for (GreenThread* g : noted_) {
    if (g == nullptr) root_woken_ = true; else schedule(*g);
  }
  noted_.clear();
  if (timers_.empty()) return;
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.earliest() <= now) {
    TimerQueue::Timer t = timers_.take();
    if (t.g->wait_seq == t.seq) schedule(*t.g);
  }
}

void Hub::sleep_in_loop(Deadline next) {
  if (!timers_.empty() && (!next || timers_.earliest() < *next)) next = timers_.earliest();
  if (next) {
    const uint64_t ms = millis_until(*next);
    if (ms == 0) {  // already due
      collect();
      return;
    }
    uv_update_time(&loop_);
    uv_timer_start(&timer_, on_timer, ms, 0);
  }
  with_gil_released(ts_, [&] { uv_run(&loop_, UV_RUN_ONCE); });
  uv_timer_stop(&timer_);
  since_poll_ = 0;
  collect();
}

WaitStatus Hub::run_root(const Deadline& deadline, bool until_idle) {
  while (true) {
    if (root_woken_) return WaitStatus::ready;
    if (until_idle && alive_ == 0) return WaitStatus::ready;
    if (ts_.interrupt_pending.load(std::memory_order_relaxed)) return WaitStatus::interrupted;
    if (passed(deadline)) return WaitStatus::timed_out;
    if (ready_head_ != nullptr) {
      run_ready();
    } else {
      sleep_in_loop(deadline);
    }
  }
}

// --- the block monitor ---------------------------------------------------------

void Hub::request_block_report() {
  report_requested_.store(true);
  ts_.breaker.request_urgent_break();
}

void Hub::report_block() {
  if (!report_requested_.exchange(false) || ts_.green == nullptr || monitor_ == nullptr) return;
  lua_State* L = ts_.breaker.running();
  if (L == nullptr || !lua_checkstack(L, 4)) return;
  GreenBlockReport report;
  report.green_id = ts_.green->id;
  report.ran = Clock::now().time_since_epoch() - Clock::duration(green_since.load());
  report.limit = monitor_->limit();
  luaL_traceback(L, L, nullptr, 0);
  report.traceback = lua_tostring(L, -1);
  lua_pop(L, 1);
  monitor_->report(report);
}

// --- waiting (both sides) --------------------------------------------------

void Hub::begin_wait(GreenThread& g, const Deadline& deadline) {
  ++g.wait_seq;
  if (deadline) {
    timers_.add(TimerQueue::Timer{*deadline, g.wait_seq, g.self});
  }
}

void Hub::end_wait(GreenThread& g) {
  ++g.wait_seq;  // any timer entry left for this wait is stale now
}

void Hub::suspend(GreenThread& g, const Deadline& deadline) {
  begin_wait(g, deadline);
  g.fiber.suspend();
  end_wait(g);
}

WaitStatus Hub::green_park(GreenThread& g, WaitList& list, const Deadline& deadline) {
  if (g.kill_pending) return WaitStatus::interrupted;
  if (passed(deadline)) return WaitStatus::timed_out;
  WaitList::Node node;
  node.waker = Waker{wake_green, &g};
  list.push(node);
  while (true) {
    suspend(g, deadline);
    if (node.woken) return WaitStatus::ready;
    if (g.kill_pending) {
      list.remove(node);
      return WaitStatus::interrupted;
    }
    if (passed(deadline)) {
      list.remove(node);
      return WaitStatus::timed_out;
    }
  }
}

WaitStatus Hub::root_park(WaitList& list, const Deadline& deadline) {
  if (ts_.take_interrupt()) return WaitStatus::interrupted;
  if (passed(deadline)) return WaitStatus::timed_out;
  WaitList::Node node;
  node.waker = Waker{wake_root, this};
  list.push(node);
  root_woken_ = false;
  WaitStatus status;
  do {  // root_woken_ is only ever set for this node: the root waits on one thing
    status = run_root(deadline, /*until_idle=*/false);
    root_woken_ = false;
  } while (status == WaitStatus::ready && !node.woken);
  if (node.woken) return WaitStatus::ready;
  list.remove(node);
  if (status == WaitStatus::interrupted) ts_.take_interrupt();
  return status;
}

WaitStatus Hub::park(WaitList& list, const Deadline& deadline) {
  if (ts_.green != nullptr) return green_park(*ts_.green, list, deadline);
  return root_park(list, deadline);
}

WaitStatus Hub::wait_fd(int fd, short events, const Deadline& deadline) {
  GreenThread* g = ts_.green;
  if (g ? g->kill_pending : ts_.take_interrupt()) return WaitStatus::interrupted;
  FdWatch::Waiter me{g, ((events & POLLIN) ? UV_READABLE : 0) | ((events & POLLOUT) ? UV_WRITABLE : 0)};
  FdWatch* watch = fd_watches_[fd];
  if (watch == nullptr) {
    watch = new FdWatch{};
    watch->hub = this;
    watch->fd = fd;
    watch->handle.data = watch;
    const int rc = uv_poll_init(&loop_, &watch->handle, fd);
    if (rc != 0) {
      delete watch;
      fd_watches_.erase(fd);
      // A regular file cannot be polled (EPERM) and is always ready: the
      // I/O call goes ahead. Anything else (no memory, no descriptors) must
      // not look like readiness, or the caller would spin: wait for the
      // descriptor without the hub, blocking this OS thread.
      if (rc == UV_EPERM) return WaitStatus::ready;
      return wait_fd_blocking(ts_, fd, events, deadline);
    }
    fd_watches_[fd] = watch;
  }
  watch->waiters.push_back(&me);
  uv_poll_start(&watch->handle, watch->wanted(), FdWatch::on_ready);
  WaitStatus status = WaitStatus::ready;
  if (g == nullptr) root_woken_ = false;
  while (!me.ready) {
    if (g != nullptr) {
      if (g->kill_pending) { status = WaitStatus::interrupted; break; }
      if (passed(deadline)) { status = WaitStatus::timed_out; break; }
      suspend(*g, deadline);
    } else {
      status = run_root(deadline, /*until_idle=*/false);
      root_woken_ = false;
      if (status == WaitStatus::interrupted) ts_.take_interrupt();
      if (status != WaitStatus::ready) break;
    }
  }
  if (me.ready) status = WaitStatus::ready;
  auto& waiters = watch->waiters;
  waiters.erase(std::find(waiters.begin(), waiters.end(), &me));
  if (waiters.empty()) {
    fd_watches_.erase(fd);
    uv_poll_stop(&watch->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->handle), FdWatch::on_closed);
  } else {
    uv_poll_start(&watch->handle, watch->wanted(), FdWatch::on_ready);
  }
  return status;
}

WaitStatus Hub::yield() {
  if (GreenThread* g = ts_.green) {
    if (g->kill_pending) return WaitStatus::interrupted;
    push_ready(*g);
    suspend(*g, std::nullopt);
    return g->kill_pending ? WaitStatus::interrupted : WaitStatus::ready;
  }
  if (ts_.take_interrupt()) return WaitStatus::interrupted;
  poll_now();
  run_ready();
  return WaitStatus::ready;
}

WaitStatus Hub::drain() {
  const WaitStatus status = run_root(std::nullopt, /*until_idle=*/true);
  if (status == WaitStatus::interrupted) ts_.take_interrupt();
  return status;
}

}  // namespace gilrun
