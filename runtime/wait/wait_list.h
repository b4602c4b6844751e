// wait_list.h — blocking on state that the GIL protects. This file is private
// to the runtime.
//
// In gilrun every synchronisation object (lock, event, semaphore, condition,
// queue, thread join) keeps its state in plain fields guarded by the GIL
// itself: whoever changes the state holds the GIL, so no second lock is
// needed. Only sleeping needs help: a thread that must wait registers on the
// object's WaitList, drops the GIL, parks, and re-takes the GIL when woken.
// Whoever makes the awaited state true (holding the GIL) calls wake_one() or
// wake_all(). Parker's permit makes the hand-off race-free.
//
// A waiter is either an OS thread (its node's Waker unparks its Parker) or,
// when the caller is a green thread or its OS thread runs green threads, a
// context of a hub (hub.h): park_on() then switches to the hub instead of
// parking, and the Waker schedules the context on its hub. Callers cannot
// tell the difference, which is why queue, sync, join and sleep work in
// green threads unchanged.
#pragma once

#include "wait/parker.h"

namespace gilrun {

struct ThreadState;

enum class WaitStatus { ready, timed_out, interrupted };

// Waker is how a parked waiter is woken: fn(target), called with the GIL
// held, from any OS thread.
struct Waker {
  void (*fn)(void* target) = nullptr;
  void* target = nullptr;
  void wake() const { fn(target); }
};

// WaitList is an intrusive FIFO of parked threads. Guarded by the GIL.
class WaitList {
 public:
  struct Node {
    Waker waker;
    Node* prev = nullptr;
    Node* next = nullptr;
    bool linked = false;
    bool woken = false;
  };

  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  bool empty() const { return head_ == nullptr; }
  // wake_one() wakes the longest waiter; returns false if there was none.
  bool wake_one();
  void wake_all();

  void push(Node& node);
  void remove(Node& node);

 private:
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
};

// park_on() parks the calling thread (GIL released) on `list` once: until a
// waker picks it, the deadline passes, or Ctrl-C. Called and returns with the
// GIL held. Returns ready if it was woken.
WaitStatus park_on(ThreadState& ts, WaitList& list, const Deadline& deadline);

// wait_until() blocks until `ready()` (evaluated with the GIL held) is true.
// An interrupt is reported once, and consumed.
template <class Ready>
WaitStatus wait_until(ThreadState& ts, WaitList& list, const Deadline& deadline,
                      Ready&& ready) {
  while (!ready()) {
    const WaitStatus status = park_on(ts, list, deadline);
    if (status != WaitStatus::ready && !ready()) return status;
  }
  return WaitStatus::ready;
}

// sleep_until() sleeps (GIL released) until the deadline or Ctrl-C.
WaitStatus sleep_until(ThreadState& ts, const Deadline& deadline);

}  // namespace gilrun
