// trace_recorder.h — recording what every thread does with the GIL, cheaply
// enough to leave on for a whole run. This file is private to the runtime.
//
// Each OS thread appends to its own TraceBuffer (one writer, no lock, no
// allocation except one fixed-size chunk every kChunkEvents events). The
// recorder merges the buffers into a Timeline (timeline.h) at the end.
#pragma once

#include <atomic>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "trace/timeline.h"
#include "wait/clock.h"

namespace gilrun {

enum class TraceKind : uint8_t {
  running,       // took the GIL
  waiting,       // started waiting for it
  blocked,       // dropped it to block (sleep, I/O, join, ...)
  drop_request,  // asked the holder (arg: its thread id) to drop
  forced_drop,   // dropped because asked to
  exited,        // the thread ended
  drop_site,     // where its last forced drop happened (arg: a site index)
};

struct TraceEvent {
  int64_t at_ns;  // since the recorder started
  uint64_t arg;
  TraceKind kind;
};

// TraceBuffer is one thread's event log. record() is called only by the
// owning thread; snapshot() may run concurrently on another thread and sees a
// prefix of the events.
class TraceRecorder;

class TraceBuffer {
 public:
  TraceBuffer(uint64_t thread_id, std::string name, Clock::time_point origin,
              TraceRecorder* recorder);
  ~TraceBuffer();
  TraceBuffer(const TraceBuffer&) = delete;
  TraceBuffer& operator=(const TraceBuffer&) = delete;

  void record(TraceKind kind, Clock::time_point at, uint64_t arg = 0);
  // record_drop_site() notes where this thread's last forced drop happened
  // ("file.lua:12 (function)"); runs only after an attributed hand-over.
  void record_drop_site(Clock::time_point at, const std::string& site);
  std::vector<TraceEvent> snapshot() const;

  const uint64_t thread_id;
  const std::string name;

 private:
  static constexpr uint32_t kChunkEvents = 16384;
  struct Chunk {
    TraceEvent events[kChunkEvents];
    std::atomic<uint32_t> count{0};
    std::atomic<Chunk*> next{nullptr};
  };
  const Clock::time_point origin_;
  TraceRecorder* const recorder_;
  Chunk* head_;
  Chunk* tail_;  // owner only
};

class TraceRecorder {
 public:
  TraceRecorder();
  // add_thread() creates the buffer for a new thread. Any thread.
  TraceBuffer* add_thread(uint64_t thread_id, const std::string& name);
  // timeline() merges everything recorded so far.
  Timeline timeline() const;
  // site_index() is the index of `site` in the table of drop sites (added
  // if new; past kMaxSites, -1). Any thread.
  int32_t site_index(const std::string& site);

 private:
  static constexpr size_t kMaxSites = 4096;
  const Clock::time_point origin_;
  mutable std::mutex mutex_;  // guards buffers_ (not the buffers' contents) and sites_
  std::vector<std::unique_ptr<TraceBuffer>> buffers_;
  std::vector<std::string> sites_;
  std::map<std::string, int32_t> site_of_;
};

}  // namespace gilrun
