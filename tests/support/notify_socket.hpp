// A service manager's notification socket, as systemd makes one for a unit
// of Type=notify: a unix datagram socket named in $NOTIFY_SOCKET, for tests
// of what pcloudd tells it. Unsets the variables when it goes.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/posix/unique_fd.hpp"

namespace pcloud::test {

class notify_socket {
public:
  explicit notify_socket(const std::string& path) : path_(path) {
    ::unlink(path.c_str());
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
      ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    }
  }

  ~notify_socket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unlink(path_.c_str());
  }

  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  /// The next notification, or empty after `timeout`.
  std::string next(std::chrono::milliseconds timeout) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      return {};
    }
    char buf[4096];
    auto n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
  }

  /// Reads notifications until one contains `text`; false after `timeout`.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout,
                std::string* seen = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return false;
      }
      auto note = next(left);
      if (seen != nullptr && !note.empty()) {
        *seen += note + "\n";
      }
      if (note.find(text) != std::string::npos) {
        return true;
      }
    }
  }

private:
  std::string path_;
  posix::unique_fd fd_;
};

} // namespace pcloud::test
