#include "runtime/control/sockets.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace pcloud::runtime {

result<int> listen_tcp(const std::string& address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return fail(msg::errc::invalid_argument,
                "not an IPv4 address: '" + address + "'");
  }
  posix::unique_fd fd{
    ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) {
    return fail(std::string{"socket: "} + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0
      || ::listen(fd.get(), 128) != 0) {
    auto err = errno;
    return fail(err == EADDRINUSE ? msg::errc::in_use : msg::errc::unavailable,
                "cannot listen on " + address + ":" + std::to_string(port)
                  + ": " + std::strerror(err));
  }
  return fd.release();
}

uint16_t bound_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return 0;
  }
  return ntohs(sa.sin_port);
}

namespace {

result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path)) {
    return fail(msg::errc::invalid_argument,
                "a unix socket path must have 1-"
                  + std::to_string(sizeof(sa.sun_path) - 1) + " characters: '"
                  + path + "'");
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return sa;
}

} // namespace

result<posix::unique_fd> listen_unix(const std::string& path) {
  auto sa = unix_address(path);
  if (!sa) {
    return sa.failure_value();
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(msg::errc::exists,
                  path + " exists and is not a socket: not replacing it");
    }
    // The lock on the state directory says no other pcloudd runs, so a
    // socket here is a dead one's.
    ::unlink(path.c_str());
  }
  posix::unique_fd fd{
    ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) {
    return fail(std::string{"socket: "} + std::strerror(errno));
  }
  // Created 0600 from the start: no moment in which others could connect.
  auto old_mask = ::umask(0177);
  auto bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sa),
                      sizeof(sockaddr_un));
  auto err = errno;
  ::umask(old_mask);
  if (bound != 0 || ::listen(fd.get(), 128) != 0) {
    err = bound != 0 ? err : errno;
    return fail(msg::errc::unavailable,
                "cannot listen on " + path + ": " + std::strerror(err));
  }
  return fd;
}

result<posix::unique_fd> connect_tcp(const std::string& host, uint16_t port,
                                     std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (auto rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    return fail(msg::errc::unavailable,
                "cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard{found,
                                                             ::freeaddrinfo};
  posix::unique_fd fd{
    ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) {
    return fail(std::string{"socket: "} + std::strerror(errno));
  }
  auto where = host + ":" + service;
  if (::connect(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      return fail(msg::errc::unavailable,
                  "cannot connect to " + where + ": " + std::strerror(errno));
    }
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      return fail(msg::errc::unavailable, "no answer from " + where + " in "
                                            + std::to_string(timeout.count())
                                            + " ms");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return fail(msg::errc::unavailable,
                  "cannot connect to " + where + ": " + std::strerror(err));
    }
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

result<posix::unique_fd> connect_unix(const std::string& path) {
  auto sa = unix_address(path);
  if (!sa) {
    return sa.failure_value();
  }
  posix::unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (!fd) {
    return fail(std::string{"socket: "} + std::strerror(errno));
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa),
                sizeof(sockaddr_un))
      != 0) {
    auto err = errno;
    return fail(err == EACCES ? msg::errc::permission_denied
                              : msg::errc::unavailable,
                "cannot connect to " + path + ": " + std::strerror(err));
  }
  return fd;
}

} // namespace pcloud::runtime
