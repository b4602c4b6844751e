// output_file.h — a file the user asked gilrun to write (--trace,
// --timeline, bench's --json and --chart). It is opened before the run, so
// that a bad path fails at once with the reason instead of after a run of
// minutes, and written when the run ends.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace gilrun::cli {

class OutputFile {
 public:
  OutputFile() = default;
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // open() creates (or empties) `path`, close-on-exec. On failure it returns
  // false with "cannot open PATH: reason" in *error.
  bool open(const std::string& path, std::string* error);
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  // write() fills the file through `fill` and closes it. On failure it
  // returns false with "cannot write PATH: reason" in *error.
  bool write(const std::function<void(std::ostream&)>& fill, std::string* error);

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace gilrun::cli
