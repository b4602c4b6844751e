#include "thread_registry.h"

#include <algorithm>
#include <cstdio>

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

bool may_need_report(const ThreadRecord& r) { return r.failed && !r.joined && !r.reported; }

}  // namespace

std::shared_ptr<ThreadRecord> ThreadRegistry::add(std::string name, bool daemon) {
  const uint64_t id = next_id_++;
  if (name.empty()) name = id == 1 ? "main" : "thread-" + std::to_string(id);
  running_.push_back(std::make_shared<ThreadRecord>(id, std::move(name), daemon));
  return running_.back();
}

void ThreadRegistry::finished(ThreadRecord& record) {
  record.done = true;
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
    if (may_need_report(*oldest)) unreported_.push_back(std::move(oldest));
    unreported_.erase(std::remove_if(unreported_.begin(), unreported_.end(),
                                     [](const auto& r) { return !may_need_report(*r); }),
                      unreported_.end());
  }
  record.joiners.wake_all();
  exits_.wake_all();
}

void ThreadRegistry::forget(const ThreadRecord& record) { remove(running_, record); }

int ThreadRegistry::alive_non_daemon() const {
  int n = 0;
  for (const auto& r : running_) n += !r->daemon && r->id != 1;
  return n;
}

void ThreadRegistry::report_unjoined_failures() {
  for (const auto& record : unreported_) report_unjoined_failure(*record);
  unreported_.clear();
  for (const auto& record : finished_) report_unjoined_failure(*record);
}

void ThreadRegistry::report_unjoined_failure(ThreadRecord& record) {
  if (!record.failed || record.joined || record.reported) return;
  record.reported = true;
  std::fprintf(stderr, "gilrun: thread '%s' (#%llu) failed and was never joined:\n%s\n",
               record.name.c_str(), static_cast<unsigned long long>(record.id),
               record.error_text.c_str());
  std::fflush(stderr);
}

}  // namespace gilrun
