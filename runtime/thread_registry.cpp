#include "thread_registry.h"

#include <cstdio>

namespace gilrun {

std::shared_ptr<ThreadRecord> ThreadRegistry::add(std::string name, bool daemon) {
  const uint64_t id = next_id_++;
  if (name.empty()) name = id == 1 ? "main" : "thread-" + std::to_string(id);
  all_.push_back(std::make_shared<ThreadRecord>(id, std::move(name), daemon));
  return all_.back();
}

void ThreadRegistry::finished(ThreadRecord& record) {
  record.done = true;
  record.state = nullptr;
  record.joiners.wake_all();
  exits_.wake_all();
}

void ThreadRegistry::forget(const ThreadRecord& record) {
  for (auto it = all_.begin(); it != all_.end(); ++it) {
    if (it->get() == &record) {
      all_.erase(it);
      return;
    }
  }
}

int ThreadRegistry::alive() const {
  int n = 0;
  for (const auto& r : all_) n += !r->done;
  return n;
}

int ThreadRegistry::alive_non_daemon() const {
  int n = 0;
  for (const auto& r : all_) n += !r->done && !r->daemon && r->id != 1;
  return n;
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
