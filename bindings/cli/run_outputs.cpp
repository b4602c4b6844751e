#include "run_outputs.h"

#include <iostream>

#include "blame_report.h"
#include "stats_report.h"

namespace gilrun::cli {

bool RunOutputs::open() {
  std::string error;
  if ((!inv_.trace_file.empty() && !trace_.open(inv_.trace_file, &error)) ||
      (!inv_.timeline_file.empty() && !timeline_.open(inv_.timeline_file, &error)) ||
      (!inv_.gil_profile_file.empty() && !gil_profile_.open(inv_.gil_profile_file, &error))) {
    std::cerr << "gilrun: " << error << "\n";
    return false;
  }
  return true;
}

bool RunOutputs::write(const Stats& stats) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (written_) return ok_;
  written_ = true;
  if (inv_.stats == "json") {
    print_stats_json(std::cerr, stats);
  } else if (!inv_.stats.empty()) {
    print_stats_table(std::cerr, stats);
  }
  std::cerr.flush();
  std::string profile_error;
  if (gil_profile_.is_open() &&
      !gil_profile_.write([&](std::ostream& out) { write_gil_profile(out, stats); },
                          &profile_error)) {
    std::cerr << "gilrun: " << profile_error << "\n";
    ok_ = false;
  }
  const Interpreter* interpreter = interpreter_.load();
  if (interpreter == nullptr) return ok_;
  std::string error;
  if (trace_.is_open() &&
      !trace_.write([&](std::ostream& out) { interpreter->write_trace(out); }, &error)) {
    std::cerr << "gilrun: " << error << "\n";
    ok_ = false;
  }
  if (timeline_.is_open()) {
    std::string title = inv_.script_index >= 0 ? inv_.argv[inv_.script_index] : "gilrun";
    title += " (--gil=" + inv_.policy + ")";
    if (!timeline_.write(
            [&](std::ostream& out) { interpreter->write_timeline(out, title, stats); }, &error)) {
      std::cerr << "gilrun: " << error << "\n";
      ok_ = false;
    }
  }
  return ok_;
}

}  // namespace gilrun::cli
