// Plain TCP and HTTP/1.0 clients for tests and benchmarks: one fresh
// connection per request, to a port on 127.0.0.1 (a forwarded guest service)
// or on a guest's own address (a libvirt network).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace pcloud::test {

struct http_answer {
  /// 0 when there was no answer (refused, reset, timed out, not HTTP).
  int status = 0;
  std::string body;
};

/// Sends `request` to `address`:`port` (IPv4) on a fresh connection and
/// returns what came back until the peer closed or `timeout` (for
/// everything) ran out; empty when nothing answered.
inline std::string tcp_exchange(const std::string& address, uint16_t port,
                                const std::string& request,
                                std::chrono::milliseconds timeout,
                                size_t enough = SIZE_MAX) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now())
                .count();
    return static_cast<int>(ms < 0 ? 0 : ms);
  };
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return {};
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    ::close(fd);
    return {};
  }
  auto wait_for = [&](short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, left()) == 1 && (p.revents & (events | POLLHUP)) != 0;
  };
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0
      || (errno == EINPROGRESS && wait_for(POLLOUT))) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0
        && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL)
             == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      while (reply.size() < enough && wait_for(POLLIN)) {
        auto n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
          break;
        }
        reply.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return reply;
}

inline std::string tcp_exchange(uint16_t port, const std::string& request,
                                std::chrono::milliseconds timeout,
                                size_t enough = SIZE_MAX) {
  return tcp_exchange("127.0.0.1", port, request, timeout, enough);
}

/// GET / on `address`:`port`, waiting at most `timeout` in all.
inline http_answer http_get(const std::string& address, uint16_t port,
                            std::chrono::milliseconds timeout
                            = std::chrono::milliseconds{2000}) {
  http_answer result;
  auto reply = tcp_exchange(address, port,
                            "GET / HTTP/1.0\r\nHost: pcloud\r\n\r\n", timeout);
  // "HTTP/1.x NNN ..." then headers, a blank line and the body.
  if (reply.compare(0, 5, "HTTP/") == 0 && reply.size() >= 12) {
    result.status = std::atoi(reply.c_str() + 9);
    if (auto end = reply.find("\r\n\r\n"); end != std::string::npos) {
      result.body = reply.substr(end + 4);
    }
  }
  return result;
}

/// GET / on 127.0.0.1:`port`.
/// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
inline uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

inline http_answer http_get(uint16_t port, std::chrono::milliseconds timeout
                                           = std::chrono::milliseconds{2000}) {
  return http_get("127.0.0.1", port, timeout);
}

} // namespace pcloud::test
