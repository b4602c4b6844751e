#include "blame/blame_table.h"

#include <algorithm>

namespace gilrun {
namespace {
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

void BlameTable::add(const std::string& thread, const Site& site, Clock::duration d) {
  Entry& e = sites_[{site.where, site.function}];
  e.total += d;
  ++e.count;
  e.longest = std::max(e.longest, d);
  std::string root = thread;
  for (char& c : root) {
    if (c == ';' || c == '\n' || c == '\r') c = ' ';
  }
  std::string stack = root + ';' + (site.stack.empty() ? "(not in Lua)" : site.stack);
  if (stacks_.size() >= kMaxStacks && stacks_.count(stack) == 0) stack = root + ";(other stacks)";
  stacks_[stack] += d;
}

std::vector<GilSite> BlameTable::top(size_t n) const {
  std::vector<GilSite> sites;
  sites.reserve(sites_.size());
  for (const auto& [key, e] : sites_) {
    sites.push_back({key.first, key.second, seconds(e.total), e.count, seconds(e.longest)});
  }
  std::sort(sites.begin(), sites.end(), [](const GilSite& a, const GilSite& b) {
    return a.total != b.total ? a.total > b.total : a.where < b.where;
  });
  if (sites.size() > n) sites.resize(n);
  return sites;
}

void BlameTable::append_stacks(const std::string& root_suffix, std::vector<GilStack>* out) const {
  for (const auto& [stack, d] : stacks_) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    if (us <= 0) continue;
    const size_t thread_end = stack.find(';');
    out->push_back({stack.substr(0, thread_end) + root_suffix + stack.substr(thread_end),
                    static_cast<uint64_t>(us)});
  }
}

}  // namespace gilrun
