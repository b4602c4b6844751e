#include "bench/progress.h"

#include <unistd.h>

#include <cstdio>

#include "text_format.h"

namespace gilrun::cli::bench {

Progress::Progress(int total)
    : total_(total), tty_(isatty(STDERR_FILENO)), t0_(std::chrono::steady_clock::now()) {}

void Progress::start(const std::string& what) {
  ++started_;
  const int elapsed = static_cast<int>(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
  const std::string count = format("%d/%d %d:%02d", started_, total_, elapsed / 60, elapsed % 60);
  if (!tty_) {
    std::fprintf(stderr, "bench: %s %s\n", count.c_str(), what.c_str());
    return;
  }
  constexpr int kBar = 24;
  const int filled = total_ > 0 ? kBar * (started_ - 1) / total_ : 0;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBar, '.');
  std::string line = "[" + bar + "] " + count + "  " + what;
  if (line.size() > 100) line.resize(100);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace gilrun::cli::bench
