// publisher.cpp — creating, filling and removing a page file.
#include "monitor/publisher.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gilrun::monitor {
namespace {

bool is_dir(const char* path) {
  struct stat st {};
  return path != nullptr && *path != '\0' && stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
         access(path, W_OK) == 0;
}

// store_text() stores `text` NUL-padded into `words` 8-byte counters.
void store_text(Counter* words, int n, const std::string& text) {
  for (int w = 0; w < n; ++w) {
    uint64_t v = 0;
    char bytes[8] = {};
    for (int b = 0; b < 8; ++b) {
      const size_t i = static_cast<size_t>(w) * 8 + b;
      bytes[b] = i < text.size() && !(w == n - 1 && b == 7) ? text[i] : '\0';
    }
    std::memcpy(&v, bytes, 8);
    store(words[w], v);
  }
}

std::atomic<int> sequence{0};  // pages this process made (several interpreters)

}  // namespace

void remove_stale_pages(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    int pid = 0, sequence = 0;
    if (std::sscanf(e->d_name, "gilrun-%d-%d.gilmon", &pid, &sequence) != 2) continue;
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

std::string runtime_dir() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); is_dir(xdg)) return xdg;
  if (is_dir("/dev/shm")) return "/dev/shm";
  return "/tmp";
}

uint64_t process_start_time(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

std::unique_ptr<Publisher> Publisher::create(const char* policy, uint64_t interval_ns,
                                             uint64_t created_ticks, uint64_t created_ns) {
  const int pid = static_cast<int>(getpid());
  const std::string dir = runtime_dir();
  // Pages of processes that died without closing (SIGKILL, _exit): gone.
  remove_stale_pages(dir);
  const std::string path = dir + "/gilrun-" + std::to_string(pid) + "-" +
                           std::to_string(sequence.fetch_add(1)) + ".gilmon";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return nullptr;
  void* memory = MAP_FAILED;
  if (fchmod(fd, 0600) == 0 && ftruncate(fd, sizeof(Page)) == 0) {
    memory = mmap(nullptr, sizeof(Page), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  ::close(fd);
  if (memory == MAP_FAILED) {
    unlink(path.c_str());
    return nullptr;
  }
  // The file is zero-filled: a Page of zero counters (atomics of integral
  // type have no other state), so it is used in place.
  Page* page = static_cast<Page*>(memory);
  store(page->version, kVersion);
  store(page->pid, static_cast<uint64_t>(pid));
  store(page->start_time, process_start_time(pid));
  store_text(page->policy, 2, policy);
  store(page->switch_interval_ns, interval_ns);
  store(page->created_ticks, created_ticks);
  store(page->created_ns, created_ns);
  page->magic.store(kMagic, std::memory_order_release);
  return std::unique_ptr<Publisher>(new Publisher(path, page));
}

Publisher::~Publisher() {
  close();
  munmap(page_, sizeof(Page));
}

void Publisher::close() {
  store(page_->exited, 1);
  unlink_file();
}

void Publisher::unlink_file() {
  if (unlinked_) return;
  unlinked_ = true;
  unlink(path_.c_str());
}

ThreadSlot* Publisher::claim_slot(uint64_t id, const std::string& name) {
  ThreadSlot* slot = nullptr;
  if (next_unused_ < kMaxThreads) {
    slot = &page_->threads[next_unused_++];
  } else {
    for (ThreadSlot& s : page_->threads) {  // reuse the slot of an exited thread
      if (static_cast<SlotState>(load(s.state)) == SlotState::exited) {
        slot = &s;
        break;
      }
    }
  }
  if (slot == nullptr) {
    store(page_->threads_hidden, load(page_->threads_hidden) + 1);
    return nullptr;
  }
  for (Counter* c : {&slot->acquisitions, &slot->switches, &slot->drop_requests,
                     &slot->forced_drops, &slot->voluntary_drops, &slot->futile_wakeups,
                     &slot->wait_ns, &slot->hold_ticks, &slot->blocked_ticks, &slot->since_ticks}) {
    store(*c, 0);
  }
  store(slot->id, id);
  store_text(slot->name, kNameBytes / 8, name);
  store(slot->state, static_cast<uint64_t>(SlotState::blocked));
  return slot;
}

void Publisher::release_slot(ThreadSlot* slot, uint64_t now_ticks) {
  store(slot->since_ticks, now_ticks);
  store(slot->state, static_cast<uint64_t>(SlotState::exited));
}

}  // namespace gilrun::monitor
