// timer_queue.h — TimerQueue: the hub's green-thread deadlines, earliest
// first. This file is private to the runtime.
//
// Most waits in one hub have the same timeout (a million `time.sleep(0.2)`,
// a server's read timeouts), so deadlines mostly arrive in increasing order.
// Those go on a FIFO, where adding and taking the earliest is O(1) and
// memory is walked in order; a deadline earlier than the FIFO's last goes
// on a binary heap instead. The earliest is the smaller of the two fronts.
// Measured with 1M sleepers of 200 ms (bench/green_sleepers.sh): the heap
// alone (32 MB of entries) made every expiry a ~20-level sift-down, each
// level a cache miss — see the README's figures.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "wait/clock.h"

namespace gilrun {

struct GreenThread;

class TimerQueue {
 public:
  struct Timer {
    Clock::time_point when;
    uint64_t seq;                    // the wait it belongs to (GreenThread::wait_seq)
    std::shared_ptr<GreenThread> g;  // keeps the record alive until it fires
  };

  bool empty() const { return fifo_.empty() && heap_.empty(); }

  void add(Timer t) {
    if (fifo_.empty() || fifo_.back().when <= t.when) {
      fifo_.push_back(std::move(t));
    } else {
      heap_.push_back(std::move(t));
      std::push_heap(heap_.begin(), heap_.end(), later);
    }
  }

  // earliest() is the first deadline; the queue must not be empty.
  Clock::time_point earliest() const { return front().when; }

  // take() removes and returns the earliest timer; not empty.
  Timer take() {
    if (heap_.empty() || (!fifo_.empty() && fifo_.front().when <= heap_.front().when)) {
      Timer t = std::move(fifo_.front());
      fifo_.pop_front();
      return t;
    }
    std::pop_heap(heap_.begin(), heap_.end(), later);
    Timer t = std::move(heap_.back());
    heap_.pop_back();
    return t;
  }

 private:
  static bool later(const Timer& a, const Timer& b) { return a.when > b.when; }  // min-heap
  const Timer& front() const {
    if (heap_.empty()) return fifo_.front();
    if (fifo_.empty()) return heap_.front();
    return fifo_.front().when <= heap_.front().when ? fifo_.front() : heap_.front();
  }

  std::deque<Timer> fifo_;   // non-decreasing deadlines
  std::vector<Timer> heap_;  // the rest
};

}  // namespace gilrun
