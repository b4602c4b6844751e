// bench/progress.h — the progress line on stderr while `gilrun bench` runs:
// on a terminal one line, redrawn in place (a bar, count, elapsed time, the
// configuration running); otherwise one plain line per child, so logs and CI
// output stay readable.
#pragma once

#include <chrono>
#include <string>

namespace gilrun::cli::bench {

class Progress {
 public:
  explicit Progress(int total);
  // start() shows that child number `done + 1` (of total) begins.
  void start(const std::string& what);
  // finish() clears the redrawn line (terminal) before the tables print.
  void finish();

 private:
  int total_;
  int started_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace gilrun::cli::bench
