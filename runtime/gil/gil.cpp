/*
 * gil.cpp — the global interpreter lock: what every policy shares.
 *
 * Notes about the implementation
 * ------------------------------
 * The default policy is CPython 3's "new GIL" (Python/ceval_gil.c, Antoine
 * Pitrou, 2009), transplanted onto Lua; the others change one decision each
 * and live in gil_<policy>.cpp so they can be read side by side.
 *
 * - The GIL is a flag (`locked_`) guarded by a mutex. A thread that finds it
 *   taken becomes a waiter; the policy's wait_turn() decides how it waits
 *   and when it asks the holder to let go.
 *
 * - Asking is request_drop(): it sets the holder's `drop_request` and asks
 *   the holder's EvalBreaker to stop the VM. The holder notices at its next
 *   VM instruction (eval_breaker.cpp: a hook armed from a signal, never
 *   installed permanently) and calls yield_if_requested(), where the policy
 *   hands the GIL over and queues for it again. A holder that runs no Lua (a
 *   long C function) is never interrupted: blocking bindings release the GIL
 *   themselves, through drop()/take().
 *
 * - `switch_number_` counts holder changes. A waiter compares it before and
 *   after a timed wait so that it does not ask a thread that only just got
 *   the GIL to drop it again.
 *
 * - Voluntary drops (blocking I/O, sleep, join) are the convoy effect's
 *   cause (bpo-7946): an I/O thread that drops the GIL for every tiny read
 *   must then win it back from a CPU-bound thread, which under `interval`
 *   takes a whole switch interval.
 *
 * - Statistics and trace events are recorded with the mutex held, which
 *   take/drop hold anyway, so they cost no extra synchronisation; each trace
 *   event goes to the calling thread's own buffer.
 *
 * - Attribution (runtime/blame/, when set_blame() was called): request_drop()
 *   notes when the holder was first asked to drop in its tenure; a forced
 *   drop turns that into `made_wait`, a take that had to wait into `waited`
 *   (ThreadState::hand_over). Neither touches Lua: once the thread holds the
 *   GIL again, take()/yield_if_requested() hand it to the BlameSink, which
 *   reads the thread's own stack. Nothing of it runs unless someone waited.
 *
 * - The monitor page (runtime/monitor/page.h, when set_publisher() was
 *   called) mirrors the counters right where they change, in the same
 *   critical sections, with relaxed atomic stores of the counters' own new
 *   values: `gilrun top` and gil.stats() read the same numbers. A take+drop
 *   nobody waits for adds about a dozen plain stores (relaxed atomics are
 *   plain moves on x86) and no clock read.
 *
 * - At shutdown the final holder calls finalize(); take() then blocks forever
 *   for everyone else, as CPython's take_gil() does for daemon threads after
 *   finalisation.
 */
#include "gil/gil.h"

#include <sched.h>

#include <cmath>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "gil/policies.h"
#include "wait/parker.h"
#include "monitor/publisher.h"
#include "thread_state.h"
#include "trace/trace_recorder.h"

namespace gilrun {

// ---------------------------------------------------------------- histogram

void WaitHistogram::add(Clock::duration wait) {
  const double us = std::chrono::duration<double, std::micro>(wait).count();
  int bucket = us <= 1.0 ? 0 : static_cast<int>(4.0 * std::log2(us)) + 1;
  if (bucket >= kBuckets) bucket = kBuckets - 1;
  ++buckets_[bucket];
  ++count_;
}

void WaitHistogram::merge(const WaitHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
}

void GilCounters::merge(const GilCounters& o) {
  acquisitions += o.acquisitions;
  switches += o.switches;
  drop_requests += o.drop_requests;
  forced_drops += o.forced_drops;
  voluntary_drops += o.voluntary_drops;
  futile_wakeups += o.futile_wakeups;
  awake_takes += o.awake_takes;
  wait_time += o.wait_time;
  hold_time += o.hold_time;
  hold_ticks += o.hold_ticks;
  longest_wait = std::max(longest_wait, o.longest_wait);
  waits.merge(o.waits);
}

double WaitHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  const double rank = q * static_cast<double>(count_);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (static_cast<double>(seen) >= rank && buckets_[i] > 0) {
      // the bucket's upper bound, in seconds
      return std::exp2(static_cast<double>(i) / 4.0) * 1e-6;
    }
  }
  return std::exp2(static_cast<double>(kBuckets) / 4.0) * 1e-6;
}

// ------------------------------------------------------------------- policy

bool parse_policy(const std::string& name, GilPolicy* policy) {
  for (GilPolicy p : {GilPolicy::interval, GilPolicy::ticks, GilPolicy::fifo,
                      GilPolicy::priority, GilPolicy::isolated}) {
    if (name == policy_name(p)) {
      *policy = p;
      return true;
    }
  }
  return false;
}

const char* policy_name(GilPolicy policy) {
  switch (policy) {
    case GilPolicy::interval: return "interval";
    case GilPolicy::ticks: return "ticks";
    case GilPolicy::fifo: return "fifo";
    case GilPolicy::priority: return "priority";
    case GilPolicy::isolated: return "isolated";
  }
  return "?";
}

// --------------------------------------------------------------------- Gil

std::unique_ptr<Gil> Gil::create(const GilSettings& settings) {
  switch (settings.policy) {
    case GilPolicy::ticks: return std::make_unique<TicksGil>(settings);
    case GilPolicy::fifo: return std::make_unique<FifoGil>(settings);
    case GilPolicy::priority: return std::make_unique<PriorityGil>(settings);
    case GilPolicy::interval:
    case GilPolicy::isolated: break;
  }
  return std::make_unique<IntervalGil>(settings);
}

namespace {
// ticks_now() is the clock for hold times: read twice per take+drop even when
// nobody else wants the lock, where steady_clock::now() (~25 ns on these VMs)
// was most of the cost. rdtsc is ~10 ns; the kernel chose the TSC as its
// clocksource, so it is constant-rate and synchronised across CPUs.
inline uint64_t ticks_now() {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(Clock::now().time_since_epoch().count());
#endif
}
}  // namespace

Gil::Gil(const GilSettings& settings)
    : settings_(settings), created_ticks_(ticks_now()), interval_ns_(settings.switch_interval.count()) {}

Clock::duration Gil::ticks_to_time(uint64_t ticks) const {
  const double elapsed_ticks = static_cast<double>(ticks_now() - created_ticks_);
  const double elapsed_ns = std::chrono::duration<double, std::nano>(Clock::now() - created_).count();
  if (elapsed_ticks <= 0) return {};
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::nano>(
      static_cast<double>(ticks) * elapsed_ns / elapsed_ticks));
}

GilCounters Gil::with_hold_time(GilCounters c, bool holding) const {
  if (holding) c.hold_ticks += ticks_now() - taken_at_ticks_;
  c.hold_time += ticks_to_time(c.hold_ticks);
  c.hold_ticks = 0;
  return c;
}

void Gil::set_publisher(monitor::Publisher* publisher) {
  publisher_ = publisher;
  if (publisher_) {
    monitor::store(publisher_->page().created_ticks, created_ticks_);
    monitor::store(publisher_->page().created_ns,
                   static_cast<uint64_t>(created_.time_since_epoch().count()));
  }
}

monitor::ThreadSlot* Gil::slot_of(ThreadState& ts) {
  if (!ts.monitor_slot_claimed) {
    ts.monitor_slot_claimed = true;
    ts.monitor_slot = publisher_->claim_slot(ts.id, ts.name);
  }
  return ts.monitor_slot;
}

std::chrono::nanoseconds Gil::switch_interval() const {
  return std::chrono::nanoseconds(interval_ns_.load(std::memory_order_relaxed));
}

void Gil::set_switch_interval(std::chrono::nanoseconds interval) {
  if (interval.count() < 1) interval = std::chrono::nanoseconds(1);
  interval_ns_.store(interval.count(), std::memory_order_relaxed);
  if (publisher_) {
    monitor::store(publisher_->page().switch_interval_ns, static_cast<uint64_t>(interval.count()));
  }
}

void Gil::take(ThreadState& ts) {
  {
    Lock lock(mutex_);
    take_locked(ts, lock);
  }
  if (ts.hand_over.pending() && blame_ != nullptr) blame_->attribute(ts);
}

void Gil::drop(ThreadState& ts, bool exiting) {
  Lock lock(mutex_);
  drop_locked(ts, /*forced=*/false, exiting);
}

bool Gil::yield_if_requested(ThreadState& ts) {
  bool yielded = false;
  {
    Lock lock(mutex_);
    yielded = yield_locked(ts, lock);
  }
  if (ts.hand_over.pending() && blame_ != nullptr) blame_->attribute(ts);
  return yielded;
}

void Gil::yield_cpu() { sched_yield(); }

void Gil::park_forever(Lock& lock) {
  cond_.wait(lock.native(), [] { return false; });
}

void Gil::note_asked(ThreadState& holder) {
  if (blame_ != nullptr && holder.hand_over.requested_at == Clock::time_point{}) {
    holder.hand_over.requested_at = Clock::now();
  }
}

void Gil::request_drop(ThreadState& requester) {
  ThreadState& holder = *holder_;
  // One request per holder tenure: while one is pending (the holder has not
  // serviced it yet), asking again only nudges the breaker, which sends no
  // second signal while one is in flight and re-arms a break that was lost
  // (eval_breaker_signal.cpp, arm()). Counting every ask made 10,000
  // queued waiters report 54,170 requests for 171 drops (issue 16).
  if (holder.drop_request.load(std::memory_order_relaxed)) {
    holder.breaker.request_break();
    return;
  }
  note_asked(holder);
  holder.drop_request.store(true, std::memory_order_relaxed);
  holder.breaker.request_break();
  ++totals_.drop_requests;
  ++requester.counters.drop_requests;
  if (publisher_) {
    monitor::store(publisher_->page().drop_requests, totals_.drop_requests);
    if (monitor::ThreadSlot* slot = slot_of(requester)) {
      monitor::store(slot->drop_requests, requester.counters.drop_requests);
    }
  }
  if (requester.trace) {
    requester.trace->record(TraceKind::drop_request, Clock::now(), holder.id);
  }
}

bool Gil::ask_if_unchanged(ThreadState& requester, uint64_t seen) {
  if (!locked_ || finalizing_ || handing_off() || switch_number_ != seen) return false;
  request_drop(requester);
  return true;
}

void Gil::count_futile_wakeup(ThreadState& ts) {
  ++totals_.futile_wakeups;
  ++ts.counters.futile_wakeups;
  if (publisher_) {
    monitor::store(publisher_->page().futile_wakeups, totals_.futile_wakeups);
    if (monitor::ThreadSlot* slot = slot_of(ts)) {
      monitor::store(slot->futile_wakeups, ts.counters.futile_wakeups);
    }
  }
}

void Gil::count_awake_take(ThreadState& ts) {
  ++totals_.awake_takes;
  ++ts.counters.awake_takes;
}

bool Gil::take_drop_request(ThreadState& ts) {
  if (!ts.drop_request.load(std::memory_order_relaxed)) return false;
  ts.drop_request.store(false, std::memory_order_relaxed);
  return true;
}

void Gil::wait_in_line_once(ThreadState& ts, Lock& lock, LineTimer& timer) {
  if (parked_forever(ts)) {
    leave_line(ts);
    park_forever(lock);
  }
  if (!line_.keeps_time(ts)) {  // sleep until it is the front, a release comes, or the duty
    ts.gil_turn.wait(lock.native());
    return;
  }
  arm_timer(ts, timer);
  if (ts.gil_turn.wait_until(lock.native(), timer.deadline) == std::cv_status::timeout) {
    ask_if_unchanged(ts, timer.seen);
    timer.keeping = false;  // one interval more before it asks again
  }
}

void Gil::arm_timer(ThreadState& ts, LineTimer& timer) {
  // The timekeeper times the holder's tenure, not its own wait: a wake-up
  // (it is the front, and a release came) that finds the same holder back
  // keeps the deadline, so a holder that drops and re-takes the GIL often
  // is still asked after one interval (CPython restarts the wait).
  if (!line_.keeps_time(ts) || (timer.keeping && timer.seen == switch_number_)) return;
  timer.keeping = true;
  timer.seen = switch_number_;
  timer.deadline = Clock::now() + switch_interval();
}

bool Gil::spin_for_release(Lock& lock, const LineTimer& timer) {
  const Deadline until = timer.keeping ? Deadline(timer.deadline) : std::nullopt;
  mutex_.unlock();  // behind `lock`'s back, and taken again before it is used
  const bool released =
      spin_wait(settings_.front_spin, until, [this] { return !looks_locked(); });
  mutex_.lock();
  return released;
}

void Gil::leave_line(ThreadState& ts) {
  const WaitLine::ToWake wake = line_.leave(ts);
  if (wake.timekeeper != nullptr) wake.timekeeper->gil_turn.notify_one();
  if (wake.front != nullptr) wake.front->gil_turn.notify_one();  // to wait awake for ts's release
}

void Gil::wake_waiter() {
  if (ThreadState* front = line_.front()) front->gil_turn.notify_one();
}

void Gil::wait_for_switch(Lock& lock) {
  const uint64_t saved_switch_number = switch_number_;
  switch_cond_.wait(lock.native(), [&]() REQUIRES(mutex_) { return switch_number_ != saved_switch_number || waiting_ == 0; });
}

void Gil::take_locked(ThreadState& ts, Lock& lock) {
  if (!free_for(ts)) {
    const Clock::time_point wait_start = Clock::now();
    if (ts.trace) ts.trace->record(TraceKind::waiting, wait_start);
    if (waiting_++ == 0) load_since_ = wait_start;
    if (publisher_) publish_wait_start(ts, wait_start);
    wait_turn(ts, lock);
    const Clock::time_point now = Clock::now();
    if (--waiting_ == 0) load_time_ += now - load_since_;
    const Clock::duration waited = now - wait_start;
    totals_.wait_time += waited;
    ts.counters.wait_time += waited;
    ts.counters.waits.add(waited);
    totals_.waits.add(waited);
    if (waited > ts.counters.longest_wait) ts.counters.longest_wait = waited;
    if (waited > totals_.longest_wait) totals_.longest_wait = waited;
    if (blame_ != nullptr) ts.hand_over.waited += waited;
    if (publisher_) publish_wait_end(ts);
  }
  locked_ = true;
  looks_locked_.store(true, std::memory_order_relaxed);
  if (holder_ != &ts) {
    holder_ = &ts;
    ++switch_number_;
    ++totals_.switches;
    ++ts.counters.switches;
  }
  ++totals_.acquisitions;
  ++ts.counters.acquisitions;
  taken_at_ticks_ = ticks_now();
  if (publisher_) publish_take(ts);
  if (ts.trace) ts.trace->record(TraceKind::running, Clock::now());
  // A request aimed at this thread's previous tenure is stale now.
  ts.drop_request.store(false, std::memory_order_relaxed);
  ts.hand_over.requested_at = Clock::time_point{};
  switch_cond_.notify_all();
  on_taken(ts);
}

void Gil::drop_locked(ThreadState& ts, bool forced, bool exiting) {
  const uint64_t held = ticks_now() - taken_at_ticks_;
  totals_.hold_ticks += held;
  ts.counters.hold_ticks += held;
  ts.io_bound = !forced;  // the priority policy's notion of an I/O thread
  if (forced) {
    ++totals_.forced_drops;
    ++ts.counters.forced_drops;
    if (ts.hand_over.requested_at != Clock::time_point{}) {
      ts.hand_over.made_wait += Clock::now() - ts.hand_over.requested_at;
      ts.hand_over.requested_at = Clock::time_point{};
    }
  } else if (!exiting) {
    ++totals_.voluntary_drops;
    ++ts.counters.voluntary_drops;
  }
  if (ts.trace) {
    const Clock::time_point now = Clock::now();
    if (forced) ts.trace->record(TraceKind::forced_drop, now);
    // A forced thread wants the GIL straight back: it is waiting, not blocked.
    ts.trace->record(exiting  ? TraceKind::exited
                     : forced ? TraceKind::waiting
                              : TraceKind::blocked,
                     now);
  }
  release(ts, forced);
  looks_locked_.store(locked_, std::memory_order_relaxed);
  if (publisher_) publish_drop(ts, forced, exiting, taken_at_ticks_ + held);
  if (exiting && holder_ == &ts) holder_ = nullptr;  // its address may be reused
}

// ------------------------------------------------------ the monitor page

namespace {
using monitor::SlotState;
// set_state() starts `state` at `since_ticks`, closing a spell of blocking.
void set_state(monitor::ThreadSlot* slot, SlotState state, uint64_t since_ticks) {
  if (static_cast<SlotState>(monitor::load(slot->state)) == SlotState::blocked) {
    monitor::store(slot->blocked_ticks, monitor::load(slot->blocked_ticks) + since_ticks -
                                            monitor::load(slot->since_ticks));
  }
  monitor::store(slot->since_ticks, since_ticks);
  monitor::store(slot->state, static_cast<uint64_t>(state));
}
uint64_t ns_of(Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}
}  // namespace

void Gil::publish_wait_start(ThreadState& ts, Clock::time_point wait_start) {
  monitor::Page& page = publisher_->page();
  monitor::store(page.waiting, static_cast<uint64_t>(waiting_));
  if (waiting_ == 1) monitor::store(page.load_since_ns, ns_of(wait_start.time_since_epoch()));
  if (monitor::ThreadSlot* slot = slot_of(ts)) set_state(slot, SlotState::waiting, ticks_now());
}

void Gil::publish_wait_end(ThreadState& ts) {
  monitor::Page& page = publisher_->page();
  monitor::store(page.waiting, static_cast<uint64_t>(waiting_));
  monitor::store(page.load_ns, ns_of(load_time_));
  monitor::store(page.wait_ns, ns_of(totals_.wait_time));
  if (monitor::ThreadSlot* slot = slot_of(ts)) monitor::store(slot->wait_ns, ns_of(ts.counters.wait_time));
}

void Gil::publish_take(ThreadState& ts) {
  monitor::Page& page = publisher_->page();
  monitor::store(page.taken_at_ticks, taken_at_ticks_);
  monitor::store(page.holder_id, ts.id);
  monitor::store(page.locked, 1);
  monitor::store(page.acquisitions, totals_.acquisitions);
  monitor::store(page.switches, totals_.switches);
  if (monitor::ThreadSlot* slot = slot_of(ts)) {
    monitor::store(slot->acquisitions, ts.counters.acquisitions);
    monitor::store(slot->switches, ts.counters.switches);
    set_state(slot, SlotState::running, taken_at_ticks_);
  }
}

void Gil::publish_drop(ThreadState& ts, bool forced, bool exiting, uint64_t now_ticks) {
  monitor::Page& page = publisher_->page();
  monitor::store(page.hold_ticks, totals_.hold_ticks);
  monitor::store(page.forced_drops, totals_.forced_drops);
  monitor::store(page.voluntary_drops, totals_.voluntary_drops);
  monitor::store(page.locked, locked_ ? 1 : 0);
  monitor::ThreadSlot* slot = slot_of(ts);
  if (slot == nullptr) return;
  monitor::store(slot->hold_ticks, ts.counters.hold_ticks);
  monitor::store(slot->forced_drops, ts.counters.forced_drops);
  monitor::store(slot->voluntary_drops, ts.counters.voluntary_drops);
  if (exiting) {
    publisher_->release_slot(slot, now_ticks);
    ts.monitor_slot = nullptr;  // claimed, and given back
  } else {
    set_state(slot, forced ? SlotState::waiting : SlotState::blocked, now_ticks);
  }
}

void Gil::finalize(ThreadState& ts) {
  Lock lock(mutex_);
  finalizing_ = true;
  finalizer_ = &ts;
}

GilCounters Gil::totals() const {
  Lock lock(mutex_);
  return with_hold_time(totals_, locked_);
}

GilCounters Gil::counters(const ThreadState& ts) const {
  Lock lock(mutex_);
  return with_hold_time(ts.counters, locked_ && holder_ == &ts);
}

double Gil::load_time() const {
  Lock lock(mutex_);
  Clock::duration total = load_time_;
  if (waiting_ > 0) total += Clock::now() - load_since_;
  return std::chrono::duration<double>(total).count();
}

int Gil::waiting() const {
  Lock lock(mutex_);
  return waiting_;
}

bool Gil::finalizing() const {
  Lock lock(mutex_);
  return finalizing_;
}

bool Gil::locked() const {
  Lock lock(mutex_);
  return locked_;
}

}  // namespace gilrun
