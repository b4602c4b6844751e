#include "output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <streambuf>
#include <vector>

#include "wait/fd_write.h"

namespace gilrun::cli {
namespace {

// FdBuf is an output streambuf on a descriptor; the first failed write
// keeps its errno and ends the stream.
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd), buffer_(64 * 1024) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    const char* p = pbase();
    while (error_ == 0 && p < pptr()) {
      const ssize_t n = write_nosignal(fd_, p, static_cast<size_t>(pptr() - p));
      if (n > 0) {
        p += n;
      } else if (n < 0 && errno != EINTR) {
        error_ = errno;
      }
    }
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return error_ == 0;
  }

  const int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

}  // namespace

OutputFile::~OutputFile() {
  if (fd_ >= 0) close(fd_);
}

bool OutputFile::open(const std::string& path, std::string* error) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ >= 0) return true;
  *error = "cannot open " + path + ": " + std::strerror(errno);
  return false;
}

bool OutputFile::write(const std::function<void(std::ostream&)>& fill, std::string* error) {
  FdBuf buf(fd_);
  std::ostream out(&buf);
  fill(out);
  out.flush();
  int failure = buf.error();
  if (close(fd_) != 0 && failure == 0) failure = errno;
  fd_ = -1;
  if (failure == 0 && out) return true;
  *error = "cannot write " + path_ + ": " + std::strerror(failure != 0 ? failure : EIO);
  return false;
}

}  // namespace gilrun::cli
