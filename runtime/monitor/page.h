// page.h — the layout of a gilrun process's published GIL counters: one
// file per interpreter, mapped shared, that `gilrun top` maps read-only.
// This file is private to the runtime (and to the monitor in bindings/cli/).
//
// Lock rules: the Gil writes every field with relaxed atomic stores while it
// holds its own mutex (so there is one writer at a time); readers, in this
// process or another, read with relaxed loads and no lock. A reader may see
// a sample torn across fields (a take half-published): the monitor clamps
// what it derives. `magic` is stored last, with release, once the header is
// complete; a reader checks it with acquire before reading the rest.
#pragma once

#include <atomic>
#include <cstdint>

namespace gilrun::monitor {

constexpr uint64_t kMagic = 0x31504f544c4947ULL;  // "GILTOP1"
constexpr uint64_t kVersion = 2;                   // bumped when the layout changes
constexpr int kMaxThreads = 256;                   // threads past this are not shown
constexpr int kNameBytes = 32;

using Counter = std::atomic<uint64_t>;
static_assert(Counter::is_always_lock_free, "the page needs lock-free 64-bit atomics");

enum class SlotState : uint64_t { unused = 0, running = 1, waiting = 2, blocked = 3, exited = 4 };

struct ThreadSlot {
  Counter id;
  Counter name[kNameBytes / 8];  // NUL-padded bytes, stored 8 at a time
  Counter state;                 // SlotState
  Counter since_ticks;           // when `state` began (TSC ticks)
  Counter acquisitions;
  Counter switches;
  Counter drop_requests;
  Counter forced_drops;
  Counter voluntary_drops;
  Counter futile_wakeups;
  Counter wait_ns;     // finished waits
  Counter hold_ticks;  // finished tenures, in TSC ticks (see Page)
  Counter blocked_ticks;  // finished spells blocked (GIL dropped to block)
};

struct Page {
  Counter magic;
  Counter version;
  Counter pid;
  Counter start_time;  // the process's start time (/proc/PID/stat field 22)
  Counter policy[2];   // NUL-padded policy name
  Counter switch_interval_ns;
  // Converting ticks: the TSC and the steady clock read together at start.
  Counter created_ticks;
  Counter created_ns;
  // The lock now.
  Counter locked;
  Counter holder_id;        // thread id of the holder (0: none yet)
  Counter taken_at_ticks;   // when the holder took it
  Counter waiting;          // threads waiting now
  // Lock-wide totals (the same values as Gil::totals()).
  Counter acquisitions;
  Counter switches;
  Counter drop_requests;
  Counter forced_drops;
  Counter voluntary_drops;
  Counter futile_wakeups;
  Counter wait_ns;
  Counter hold_ticks;
  Counter load_ns;          // finished spells during which someone waited
  Counter load_since_ns;    // when the current spell began (waiting > 0)
  Counter exited;           // set when the interpreter closes
  Counter threads_hidden;   // threads that found no free slot
  ThreadSlot threads[kMaxThreads];
};

// store()/load() are the only accesses: relaxed, as the lock rules say.
inline void store(Counter& c, uint64_t v) { c.store(v, std::memory_order_relaxed); }
inline uint64_t load(const Counter& c) { return c.load(std::memory_order_relaxed); }

}  // namespace gilrun::monitor
