#include "wait/wait_list.h"

#include "green/hub.h"
#include "thread_state.h"

namespace gilrun {

void WaitList::push(Node& node) {
  node.prev = tail_;
  node.next = nullptr;
  if (tail_) tail_->next = &node; else head_ = &node;
  tail_ = &node;
  node.linked = true;
  node.woken = false;
}

void WaitList::remove(Node& node) {
  if (!node.linked) return;
  if (node.prev) node.prev->next = node.next; else head_ = node.next;
  if (node.next) node.next->prev = node.prev; else tail_ = node.prev;
  node.prev = node.next = nullptr;
  node.linked = false;
}

bool WaitList::wake_one() {
  Node* node = head_;
  if (node == nullptr) return false;
  remove(*node);
  node->woken = true;
  node->waker.wake();
  return true;
}

void WaitList::wake_all() {
  while (wake_one()) {
  }
}

namespace {
bool passed(const Deadline& deadline) {
  return deadline && Clock::now() >= *deadline;
}

void unpark(void* parker) { static_cast<Parker*>(parker)->unpark(); }

// kSpin is how long a woken OS thread stays awake: first for its waker
// (Parker::park), then for the GIL its waker still holds. A hand-off
// between two threads that keep handing work back and forth (a pool worker
// and the thread waiting on its result) comes back within a few
// microseconds; sleeping instead costs a futex wait and wake on each side,
// tens of microseconds on these VMs. A wait that lasts longer pays kSpin
// once and sleeps as before.
constexpr Clock::duration kSpin = std::chrono::microseconds(50);

// take_after_wake() takes the GIL for a waiter that was just woken: its
// waker holds it and is expected to drop it soon, so wait for that awake
// before queueing in the GIL's (sleeping) wait.
void take_after_wake(ThreadState& ts) {
  Gil& gil = ts.gil();
  spin_wait(kSpin, std::nullopt, [&] { return !gil.looks_locked(); });
  gil.take(ts);
}

// park_here() is park_on() for an OS thread without a hub; `spin` is how
// long it stays awake for its waker (none for a sleep: nobody wakes it).
WaitStatus park_here(ThreadState& ts, WaitList& list, const Deadline& deadline,
                     Clock::duration spin) {
  if (ts.take_interrupt()) return WaitStatus::interrupted;
  if (passed(deadline)) return WaitStatus::timed_out;
  WaitList::Node node;
  node.waker = Waker{unpark, &ts.parker};
  list.push(node);
  // Park until woken, timed out or interrupted. Permits left over from an
  // earlier wait only cause a harmless extra loop.
  ts.gil().drop(ts);
  while (true) {
    if (ts.parker.park(deadline, spin)) {
      take_after_wake(ts);
    } else {
      ts.gil().take(ts);
    }
    if (node.woken) return WaitStatus::ready;
    if (ts.take_interrupt()) {
      list.remove(node);
      return WaitStatus::interrupted;
    }
    if (passed(deadline)) {
      list.remove(node);
      return WaitStatus::timed_out;
    }
    ts.gil().drop(ts);
  }
}
}  // namespace

WaitStatus park_on(ThreadState& ts, WaitList& list, const Deadline& deadline) {
  if (Hub::active(ts)) return Hub::of(ts).park(list, deadline);
  return park_here(ts, list, deadline, kSpin);
}

WaitStatus sleep_until(ThreadState& ts, const Deadline& deadline) {
  WaitList alone;  // nobody wakes us but the clock and Ctrl-C
  const WaitStatus status = Hub::active(ts) ? Hub::of(ts).park(alone, deadline)
                                            : park_here(ts, alone, deadline, Clock::duration::zero());
  return status == WaitStatus::interrupted ? status : WaitStatus::ready;
}

}  // namespace gilrun
