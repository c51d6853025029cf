// One owner per file descriptor. A unique_fd closes its descriptor when it
// goes away, so no early return leaks one and no descriptor is closed twice;
// handing it on is a std::move, handing it to a library that closes it
// itself (fdopen, a proton or libvirt object) is release(). Header-only and
// free of the rest of pcloud: the guest agent uses it too.
//
// Not for a child between fork and exec: there no destructor may run, so
// such code closes with ::close and says why.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace pcloud::posix {

class unique_fd {
public:
  unique_fd() noexcept = default;
  /// Takes ownership of `fd` (-1: owns nothing).
  explicit unique_fd(int fd) noexcept : fd_(fd) {
    // nop
  }
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {
    // nop
  }
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  /// The descriptor, still owned by this; -1 when none.
  int get() const noexcept { return fd_; }

  explicit operator bool() const noexcept { return fd_ >= 0; }

  /// Gives up ownership: the caller (or the library it passes `fd` to)
  /// closes it now.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  /// Closes the owned descriptor, if any, and owns `fd` instead.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0 && fd_ != fd) {
      ::close(fd_);
    }
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

/// Both ends of a pipe.
struct fd_pair {
  unique_fd read;
  unique_fd write;
};

/// pipe2(2) with `flags` (O_CLOEXEC, O_NONBLOCK) into `out`; false with
/// errno set when it fails.
[[nodiscard]] inline bool make_pipe(fd_pair& out, int flags) {
  int fds[2];
  if (::pipe2(fds, flags) != 0) {
    return false;
  }
  out.read.reset(fds[0]);
  out.write.reset(fds[1]);
  return true;
}

} // namespace pcloud::posix
