// blame_table.h — GIL time summed by source line and by stack. This file is
// private to the runtime.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "blame/site.h"
#include "gilrun/gilrun.h"
#include "wait/clock.h"

namespace gilrun {

// BlameTable sums durations per site (file:line + function) and per
// collapsed stack. Guarded by the GIL (written and read by its holder).
class BlameTable {
 public:
  // add() counts `d` at `site`, on thread `thread`'s stack.
  void add(const std::string& thread, const Site& site, Clock::duration d);
  // top() is up to `n` sites, longest total first.
  std::vector<GilSite> top(size_t n) const;
  // append_stacks() adds the stacks, prefixed with `root`, to `out`.
  void append_stacks(const std::string& root_suffix, std::vector<GilStack>* out) const;

 private:
  struct Entry {
    Clock::duration total{};
    uint64_t count = 0;
    Clock::duration longest{};
  };
  // Enough for any real program; past it, new stacks fold into one.
  static constexpr size_t kMaxStacks = 10000;
  std::map<std::pair<std::string, std::string>, Entry> sites_;  // (where, function)
  std::map<std::string, Clock::duration> stacks_;               // "thread;frames"
};

}  // namespace gilrun
