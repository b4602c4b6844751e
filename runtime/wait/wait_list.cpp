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
}  // namespace

WaitStatus park_on(ThreadState& ts, WaitList& list, const Deadline& deadline) {
  if (Hub::active(ts)) return Hub::of(ts).park(list, deadline);
  if (ts.take_interrupt()) return WaitStatus::interrupted;
  if (passed(deadline)) return WaitStatus::timed_out;
  WaitList::Node node;
  node.waker = Waker{unpark, &ts.parker};
  list.push(node);
  // Park until woken, timed out or interrupted. Permits left over from an
  // earlier wait only cause a harmless extra loop.
  ts.gil().drop(ts);
  while (true) {
    ts.parker.park(deadline);
    ts.gil().take(ts);
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

WaitStatus sleep_until(ThreadState& ts, const Deadline& deadline) {
  WaitList alone;  // nobody wakes us but the clock and Ctrl-C
  const WaitStatus status = park_on(ts, alone, deadline);
  return status == WaitStatus::interrupted ? status : WaitStatus::ready;
}

}  // namespace gilrun
