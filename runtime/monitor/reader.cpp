// reader.cpp — lock-free reads of monitor pages (page.h's lock rules).
#include "monitor/reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "monitor/publisher.h"
#include "monitor/tsc.h"

namespace gilrun::monitor {
namespace {

std::string load_text(const Counter* words, int n) {
  std::string text;
  for (int w = 0; w < n; ++w) {
    const uint64_t v = load(words[w]);
    char bytes[8];
    std::memcpy(bytes, &v, 8);
    for (char c : bytes) {
      if (c == '\0') return text;
      text += c;
    }
  }
  return text;
}

// Clock converts the page's ticks to steady-clock seconds.
struct TickClock {
  double created_ns, ns_per_tick, now_ns;
  explicit TickClock(const Page& p) {
    const uint64_t ticks = tsc_now();
    now_ns = static_cast<double>(std::chrono::steady_clock::now().time_since_epoch().count());
    created_ns = static_cast<double>(load(p.created_ns));
    const double dt = static_cast<double>(ticks - load(p.created_ticks));
    ns_per_tick = dt > 0 ? (now_ns - created_ns) / dt : 1;
  }
  double seconds(uint64_t ticks) const { return static_cast<double>(ticks) * ns_per_tick * 1e-9; }
  double age(uint64_t since_ticks, uint64_t created_ticks) const {
    const double since_ns =
        created_ns + static_cast<double>(static_cast<int64_t>(since_ticks - created_ticks)) * ns_per_tick;
    return std::max(0.0, (now_ns - since_ns) * 1e-9);
  }
};

bool parse_name(const char* name, int* pid, int* sequence) {
  return std::sscanf(name, "gilrun-%d-%d.gilmon", pid, sequence) == 2 &&
         std::strstr(name, ".gilmon") != nullptr;
}

}  // namespace

bool process_alive(int pid, uint64_t start_time) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  return start_time == 0 || process_start_time(pid) == start_time;
}

std::vector<PageFile> list_pages() {
  std::vector<PageFile> pages;
  const std::string dir = runtime_dir();
  remove_stale_pages(dir);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return pages;
  while (dirent* e = readdir(d)) {
    PageFile f;
    if (!parse_name(e->d_name, &f.pid, &f.sequence)) continue;
    f.path = dir + "/" + e->d_name;
    PageView view;
    std::string error;
    if (!view.open(f.path, &error)) continue;  // another user's, or half made
    if (view.target_gone()) continue;
    pages.push_back(f);
  }
  closedir(d);
  std::sort(pages.begin(), pages.end(), [](const PageFile& a, const PageFile& b) {
    return a.pid != b.pid ? a.pid < b.pid : a.sequence < b.sequence;
  });
  return pages;
}

PageView::~PageView() {
  if (page_ != nullptr) munmap(const_cast<Page*>(page_), sizeof(Page));
}

bool PageView::open(const std::string& path, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  void* memory = MAP_FAILED;
  if (fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) >= sizeof(Page)) {
    memory = mmap(nullptr, sizeof(Page), PROT_READ, MAP_SHARED, fd, 0);
  }
  ::close(fd);
  if (memory == MAP_FAILED) {
    *error = path + ": not a gilrun monitor page";
    return false;
  }
  page_ = static_cast<const Page*>(memory);
  if (page_->magic.load(std::memory_order_acquire) != kMagic ||
      load(page_->version) != kVersion) {
    *error = path + ": not a monitor page of this gilrun version";
    munmap(memory, sizeof(Page));
    page_ = nullptr;
    return false;
  }
  pid_ = static_cast<int>(load(page_->pid));
  start_time_ = load(page_->start_time);
  return true;
}

bool PageView::target_gone() const {
  return load(page_->exited) != 0 || !process_alive(pid_, start_time_);
}

Sample PageView::sample() const {
  const Page& p = *page_;
  const TickClock clock(p);
  const uint64_t created_ticks = load(p.created_ticks);
  Sample s;
  s.at = clock.now_ns * 1e-9;
  s.pid = pid_;
  s.policy = load_text(p.policy, 2);
  s.switch_interval = static_cast<double>(load(p.switch_interval_ns)) * 1e-9;
  s.locked = load(p.locked) != 0;
  s.holder_id = load(p.holder_id);
  s.held_for = s.locked ? clock.age(load(p.taken_at_ticks), created_ticks) : 0;
  s.waiting = load(p.waiting);
  s.acquisitions = load(p.acquisitions);
  s.switches = load(p.switches);
  s.drop_requests = load(p.drop_requests);
  s.forced_drops = load(p.forced_drops);
  s.voluntary_drops = load(p.voluntary_drops);
  s.futile_wakeups = load(p.futile_wakeups);
  s.wait_time = static_cast<double>(load(p.wait_ns)) * 1e-9;
  s.hold_time = clock.seconds(load(p.hold_ticks)) + s.held_for;
  s.load_time = static_cast<double>(load(p.load_ns)) * 1e-9;
  if (s.waiting > 0) {
    s.load_time += std::max(0.0, clock.now_ns * 1e-9 - static_cast<double>(load(p.load_since_ns)) * 1e-9);
  }
  s.exited = target_gone();
  s.threads_hidden = load(p.threads_hidden);
  for (const ThreadSlot& slot : p.threads) {
    const auto state = static_cast<SlotState>(load(slot.state));
    if (state == SlotState::unused) break;  // slots are used in order
    ThreadSample t;
    t.id = load(slot.id);
    t.name = load_text(slot.name, kNameBytes / 8);
    t.state = state;
    t.state_for = clock.age(load(slot.since_ticks), created_ticks);
    t.acquisitions = load(slot.acquisitions);
    t.switches = load(slot.switches);
    t.drop_requests = load(slot.drop_requests);
    t.forced_drops = load(slot.forced_drops);
    t.voluntary_drops = load(slot.voluntary_drops);
    t.futile_wakeups = load(slot.futile_wakeups);
    t.wait_time = static_cast<double>(load(slot.wait_ns)) * 1e-9 +
                  (state == SlotState::waiting ? t.state_for : 0);
    t.hold_time = clock.seconds(load(slot.hold_ticks)) +
                  (state == SlotState::running ? t.state_for : 0);
    t.blocked_time = clock.seconds(load(slot.blocked_ticks)) +
                     (state == SlotState::blocked ? t.state_for : 0);
    s.threads.push_back(std::move(t));
  }
  return s;
}

}  // namespace gilrun::monitor
