// gil_blame.h — attribution of GIL waiting to source lines: who held the GIL
// while others waited, and where the waiters waited. This file is private
// to the runtime; gil_blame.cpp explains when it runs.
#pragma once

#include "blame/blame_table.h"
#include "gil/gil.h"
#include "gilrun/gilrun.h"

namespace gilrun {

class GilBlame final : public BlameSink {
 public:
  // attribute() runs on ts's own thread, GIL held, after a hand-over that
  // involved it (Gil::take, Gil::yield_if_requested).
  void attribute(ThreadState& ts) override;
  // fill() copies the tables into `stats` (GIL held): top `n` sites each,
  // and every stack.
  void fill(Stats* stats, size_t n) const;

 private:
  BlameTable holders_;  // time others waited while the holder was here
  BlameTable waiters_;  // time a thread waited after it stopped here
};

}  // namespace gilrun
