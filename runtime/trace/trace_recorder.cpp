#include "trace/trace_recorder.h"

#include <algorithm>
#include <map>

namespace gilrun {

TraceBuffer::TraceBuffer(uint64_t thread_id_, std::string name_, Clock::time_point origin,
                         TraceRecorder* recorder)
    : thread_id(thread_id_), name(std::move(name_)), origin_(origin), recorder_(recorder),
      head_(new Chunk), tail_(head_) {}

TraceBuffer::~TraceBuffer() {
  for (Chunk* c = head_; c != nullptr;) {
    Chunk* next = c->next.load(std::memory_order_relaxed);
    delete c;
    c = next;
  }
}

void TraceBuffer::record(TraceKind kind, Clock::time_point at, uint64_t arg) {
  uint32_t n = tail_->count.load(std::memory_order_relaxed);
  if (n == kChunkEvents) {
    Chunk* fresh = new Chunk;
    tail_->next.store(fresh, std::memory_order_release);
    tail_ = fresh;
    n = 0;
  }
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at - origin_).count();
  tail_->events[n] = TraceEvent{ns, arg, kind};
  tail_->count.store(n + 1, std::memory_order_release);  // publish
}

void TraceBuffer::record_drop_site(Clock::time_point at, const std::string& site) {
  const int32_t index = recorder_ != nullptr ? recorder_->site_index(site) : -1;
  if (index >= 0) record(TraceKind::drop_site, at, static_cast<uint64_t>(index));
}

std::vector<TraceEvent> TraceBuffer::snapshot() const {
  std::vector<TraceEvent> events;
  for (const Chunk* c = head_; c != nullptr; c = c->next.load(std::memory_order_acquire)) {
    const uint32_t n = c->count.load(std::memory_order_acquire);
    events.insert(events.end(), c->events, c->events + n);
  }
  return events;
}

TraceRecorder::TraceRecorder() : origin_(Clock::now()) {}

TraceBuffer* TraceRecorder::add_thread(uint64_t thread_id, const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  buffers_.push_back(std::make_unique<TraceBuffer>(thread_id, name, origin_, this));
  return buffers_.back().get();
}

int32_t TraceRecorder::site_index(const std::string& site) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = site_of_.find(site);
  if (it != site_of_.end()) return it->second;
  if (sites_.size() >= kMaxSites) return -1;
  const auto index = static_cast<int32_t>(sites_.size());
  sites_.push_back(site);
  site_of_.emplace(site, index);
  return index;
}

namespace {

bool is_activity(TraceKind k) {
  return k == TraceKind::running || k == TraceKind::waiting || k == TraceKind::blocked;
}

ThreadActivity activity_of(TraceKind k) {
  switch (k) {
    case TraceKind::running: return ThreadActivity::running;
    case TraceKind::waiting: return ThreadActivity::waiting;
    default: return ThreadActivity::blocked;
  }
}

}  // namespace

Timeline TraceRecorder::timeline() const {
  Timeline t;
  t.duration_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin_).count();
  std::map<uint64_t, size_t> lane_of;                 // thread id -> lane index
  std::vector<std::pair<int64_t, int>> waiting_steps;  // (+1 / -1 at a time)
  std::vector<std::pair<uint64_t, int64_t>> requests;  // (holder id, time)
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& buffer : buffers_) {
    TimelineLane lane;
    lane.thread_id = buffer->thread_id;
    lane.name = buffer->name;
    bool open = false;
    TimelineSlice current{};
    auto close_at = [&](int64_t at) {
      if (!open) return;
      current.end_ns = at;
      if (current.end_ns > current.start_ns) lane.slices.push_back(current);
      if (current.activity == ThreadActivity::waiting) waiting_steps.emplace_back(at, -1);
      open = false;
    };
    for (const TraceEvent& e : buffer->snapshot()) {
      if (is_activity(e.kind)) {
        close_at(e.at_ns);
        current = TimelineSlice{e.at_ns, e.at_ns, activity_of(e.kind)};
        open = true;
        if (current.activity == ThreadActivity::waiting) waiting_steps.emplace_back(e.at_ns, +1);
      } else if (e.kind == TraceKind::exited) {
        close_at(e.at_ns);
      } else if (e.kind == TraceKind::forced_drop) {
        lane.instants.push_back({e.at_ns, TimelineMark::forced_drop});
      } else if (e.kind == TraceKind::drop_site) {
        // Recorded once the thread holds the GIL again: it names the place
        // of this lane's latest forced drop (so far the lane's instants are
        // its own forced drops only).
        if (!lane.instants.empty() && lane.instants.back().site < 0) {
          lane.instants.back().site = static_cast<int32_t>(e.arg);
        }
      } else if (e.kind == TraceKind::drop_request) {
        requests.emplace_back(e.arg, e.at_ns);
      }
    }
    close_at(t.duration_ns);
    lane_of[lane.thread_id] = t.lanes.size();
    t.lanes.push_back(std::move(lane));
  }
  t.sites = sites_;
  for (const auto& [holder, at] : requests) {
    auto it = lane_of.find(holder);
    if (it != lane_of.end()) t.lanes[it->second].instants.push_back({at, TimelineMark::drop_request});
  }
  for (auto& lane : t.lanes) {
    std::sort(lane.instants.begin(), lane.instants.end(),
              [](const TimelineInstant& a, const TimelineInstant& b) { return a.at_ns < b.at_ns; });
  }
  std::sort(waiting_steps.begin(), waiting_steps.end());
  int waiting = 0;
  for (const auto& [at, delta] : waiting_steps) {
    waiting += delta;
    if (!t.waiting.empty() && t.waiting.back().first == at) {
      t.waiting.back().second = waiting;
    } else {
      t.waiting.emplace_back(at, waiting);
    }
  }
  return t;
}

}  // namespace gilrun
