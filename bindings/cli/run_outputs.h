// run_outputs.h — what a run was asked to record: --stats (on stderr),
// --trace and --timeline (files). RunOutputs::write() is the one place that
// writes them, and every way out of the program calls it: the end of the
// run (after an error too), os.exit, and the signals that end the process
// (a second Ctrl-C, SIGTERM: Options::on_exit on the signal watcher's
// thread). README.md "Faults" lists what each way out writes.
#pragma once

#include <atomic>
#include <mutex>

#include "command_line.h"
#include "gilrun/gilrun.h"
#include "output_file.h"

namespace gilrun::cli {

class RunOutputs {
 public:
  explicit RunOutputs(const Invocation& inv) : inv_(inv) {}

  // open() opens the --trace and --timeline files before the run; on
  // failure it prints "gilrun: cannot open PATH: reason" and returns false.
  bool open();
  // attach() names the interpreter whose trace write() reads.
  void attach(const Interpreter* interpreter) { interpreter_.store(interpreter); }

  // write() prints --stats and writes the files. Any thread, with or
  // without the GIL (it never takes it: see Options::on_exit). Only the
  // first call writes; a later one (another way out racing it) waits until
  // that has finished and returns its result. Returns whether all went well.
  bool write(const Stats& stats);

 private:
  const Invocation& inv_;
  std::atomic<const Interpreter*> interpreter_{nullptr};
  OutputFile trace_;
  OutputFile timeline_;
  OutputFile gil_profile_;
  std::mutex mutex_;  // one writer at a time; guards the two below
  bool written_ = false;
  bool ok_ = true;
};

}  // namespace gilrun::cli
