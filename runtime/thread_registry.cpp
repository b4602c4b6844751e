#include "thread_registry.h"

#include <algorithm>

namespace gilrun {

namespace {

void remove(std::vector<std::shared_ptr<ThreadRecord>>& list, const ThreadRecord& record) {
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (it->get() == &record) {
      list.erase(it);
      return;
    }
  }
}

}  // namespace

std::shared_ptr<ThreadRecord> ThreadRegistry::add(std::string name, bool daemon) {
  const uint64_t id = next_id_++;
  if (name.empty()) name = id == 1 ? "main" : "thread-" + std::to_string(id);
  running_.push_back(std::make_shared<ThreadRecord>(id, std::move(name), daemon));
  return running_.back();
}

void ThreadRegistry::finished(ThreadRecord& record) {
  record.state = nullptr;
  for (auto it = running_.begin(); it != running_.end(); ++it) {
    if (it->get() == &record) {
      finished_.push_back(std::move(*it));
      running_.erase(it);
      break;
    }
  }
  if (finished_.size() > kFinishedKept) {
    std::shared_ptr<ThreadRecord> oldest = std::move(finished_.front());
    finished_.pop_front();
    earlier_.merge(oldest->final_counters);
    ++earlier_count_;
    if (oldest->unreported_failure()) unreported_.push_back(std::move(oldest));
    unreported_.erase(std::remove_if(unreported_.begin(), unreported_.end(),
                                     [](const auto& r) { return !r->unreported_failure(); }),
                      unreported_.end());
  }
  exits_.wake_all();
}

void ThreadRegistry::forget(const ThreadRecord& record) { remove(running_, record); }

int ThreadRegistry::alive_non_daemon() const {
  int n = 0;
  for (const auto& r : running_) n += !r->daemon && r->id != 1;
  return n;
}

void ThreadRegistry::report_unjoined_failures(const Core& core) {
  for (const auto& record : unreported_) report_unjoined_failure(core, *record);
  unreported_.clear();
  for (const auto& record : finished_) report_unjoined_failure(core, *record);
}

}  // namespace gilrun
