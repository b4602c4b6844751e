// temp_dir.h — a fresh directory for one test's files, removed with them.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace gilrun_test {

// TempDir makes a new directory (mkdtemp, under $TMPDIR or /tmp) named
// after `prefix`, so that tests ctest runs at once never share a path. It
// is removed, with whatever the test left in it, when TempDir goes. An
// empty path() means it could not be made; file() paths then fail to open.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "gilrun-test") {
    const char* tmp = getenv("TMPDIR");
    std::string name = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix +
                       "-XXXXXX";
    if (mkdtemp(name.data()) != nullptr) path_ = name;
    EXPECT_FALSE(path_.empty()) << "mkdtemp failed for " << name;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace gilrun_test
