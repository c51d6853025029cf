#include "guest/link/endpoint_check.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace pcloud::guest {

namespace {

/// "127.0.0.1:80", "[fd00::5]:80": as a URL and a Host header write it.
std::string authority(const endpoint_target& t) {
  auto host = t.address.find(':') == std::string::npos ? t.address
                                                       : "[" + t.address + "]";
  return host + ":" + std::to_string(t.port);
}

std::string millis(std::chrono::milliseconds x) {
  return std::to_string(x.count()) + "ms";
}

} // namespace

endpoint_check::endpoint_check(event_loop& loop)
    : loop_(loop), timeout_(loop), hold_(loop), failing_(loop) {
  // nop
}

endpoint_check::~endpoint_check() {
  cancel();
}

std::string endpoint_check::describe(const endpoint_target& t) {
  return t.http ? "http " + authority(t) + t.path : "tcp " + authority(t);
}

void endpoint_check::run(endpoint_target target, done_fn done) {
  cancel();
  target_ = std::move(target);
  done_ = std::move(done);
  timeout_.set(target_.timeout, [this] {
    finish(false, "timed out after " + millis(target_.timeout));
  });
  connected_ = false;
  sent_ = 0;
  response_.clear();
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, target_.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(target_.port);
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, target_.address.c_str(), &v6->sin6_addr)
             == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(target_.port);
    len = sizeof(*v6);
  } else {
    fail_soon("'" + target_.address + "' is not an IP address");
    return;
  }
  socket_.reset(
    ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket_) {
    fail_soon(std::string{"no socket: "} + std::strerror(errno));
    return;
  }
  // In progress (or done): the socket's readiness tells the outcome. A
  // connect that fails at once (no route, the network down, a firewall's
  // EPERM) leaves no error on the socket to find later.
  if (::connect(socket_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0
      && errno != EINPROGRESS) {
    fail_soon(std::strerror(errno));
    return;
  }
  loop_.watch(socket_.get(), EPOLLOUT,
              [this](uint32_t events) { on_socket(events); });
}

void endpoint_check::cancel() {
  timeout_.cancel();
  hold_.cancel();
  failing_.cancel();
  if (socket_) {
    loop_.unwatch(socket_.get());
    socket_.reset();
  }
  done_ = nullptr;
}

void endpoint_check::finish(bool ok, const std::string& detail) {
  auto done = std::move(done_);
  cancel();
  if (done) {
    done(ok, detail);
  }
}

void endpoint_check::fail_soon(const std::string& why) {
  // Deferred: `done` must not run inside run().
  failing_.set(std::chrono::milliseconds{0}, [this, why] {
    if (running()) {
      finish(false, why);
    }
  });
}

void endpoint_check::on_socket(uint32_t events) {
  if (!connected_) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      finish(false, std::strerror(err));
      return;
    }
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
      finish(false, "connection failed");
      return;
    }
    connected_ = true;
    on_connected();
    return;
  }
  if (target_.http) {
    if (sent_ < request_.size()) {
      send_request();
    } else {
      read_response();
    }
  } else {
    on_held_readable();
  }
}

void endpoint_check::on_connected() {
  if (!target_.http) {
    if (target_.hold.count() == 0) {
      finish(true, "connected");
      return;
    }
    loop_.watch(socket_.get(), EPOLLIN,
                [this](uint32_t events) { on_socket(events); });
    hold_.set(target_.hold, [this] {
      finish(true, "connected and held " + millis(target_.hold));
    });
    return;
  }
  request_ = "GET " + target_.path + " HTTP/1.0\r\nHost: " + authority(target_)
             + "\r\nUser-Agent: pcloud\r\nConnection: close\r\n\r\n";
  send_request();
}

void endpoint_check::on_held_readable() {
  char byte;
  auto n = ::recv(socket_.get(), &byte, 1, MSG_PEEK);
  if (n > 0) {
    finish(true, "connected and answered");
  } else if (n == 0 || errno == ECONNRESET) {
    finish(false, "closed at once (nothing listens behind the forward?)");
  } else if (errno != EAGAIN) {
    finish(false, std::strerror(errno));
  }
}

void endpoint_check::send_request() {
  while (sent_ < request_.size()) {
    auto n = ::send(socket_.get(), request_.data() + sent_,
                    request_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EPIPE || errno == ECONNRESET) {
        finish(false, "closed without a response");
      } else if (errno != EAGAIN) {
        finish(false,
               std::string{"cannot send the request: "} + std::strerror(errno));
      }
      return; // EAGAIN: still watching EPOLLOUT
    }
    sent_ += static_cast<size_t>(n);
  }
  loop_.watch(socket_.get(), EPOLLIN,
              [this](uint32_t events) { on_socket(events); });
}

void endpoint_check::read_response() {
  char buf[4096];
  for (;;) {
    auto n = ::recv(socket_.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == ECONNRESET) {
      // A server that closes with the request unread resets the
      // connection: the same as closing, whichever the kernel says.
      n = 0;
    }
    if (n < 0) {
      if (errno != EAGAIN) {
        finish(false,
               std::string{"reading the response: "} + std::strerror(errno));
      }
      return;
    }
    if (n > 0) {
      response_.append(
        buf, std::min(static_cast<size_t>(n), max_response - response_.size()));
    }
    if (n == 0 || response_.size() == max_response) {
      std::string detail;
      bool ok = judge_http(target_, response_, detail);
      finish(ok, detail);
      return;
    }
  }
}

bool endpoint_check::judge_http(const endpoint_target& t,
                                const std::string& response,
                                std::string& detail) {
  // "HTTP/1.1 200 OK": the status is the three digits after the first blank.
  auto blank = response.find(' ');
  if (response.rfind("HTTP/", 0) != 0 || blank == std::string::npos
      || response.size() < blank + 4) {
    detail
      = response.empty() ? "closed without a response" : "not an HTTP response";
    return false;
  }
  auto code = response.substr(blank + 1, 3);
  if (code.find_first_not_of("0123456789") != std::string::npos) {
    detail = "not an HTTP status line";
    return false;
  }
  auto status = static_cast<uint32_t>(std::stoul(code));
  detail = "status " + code;
  if (status < t.status_min || status > t.status_max) {
    detail += " (wanted " + std::to_string(t.status_min) + "-"
              + std::to_string(t.status_max) + ")";
    return false;
  }
  if (!t.body.empty()) {
    auto end = response.find("\r\n\r\n");
    if (end == std::string::npos
        || response.find(t.body, end + 4) == std::string::npos) {
      detail += " but the body lacks '" + t.body + "'";
      return false;
    }
  }
  return true;
}

} // namespace pcloud::guest
