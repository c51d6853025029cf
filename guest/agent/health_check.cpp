#include "guest/agent/health_check.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace pcloud::guest {

namespace {

std::string loopback(uint32_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

} // namespace

health_check::health_check(event_loop& loop, wire::probe_definition def)
    : loop_(loop), def_(std::move(def)), timeout_(loop) {
  // nop
}

health_check::~health_check() {
  cancel();
}

std::string health_check::describe(const wire::probe_definition& def) {
  if (def.kind == "http") {
    return "http " + loopback(def.port) + def.path;
  }
  if (def.kind == "tcp") {
    return "tcp " + loopback(def.port);
  }
  return "command '" + def.command + "'";
}

void health_check::run(done_fn done) {
  cancel();
  done_ = std::move(done);
  timeout_.set(std::chrono::milliseconds{def_.timeout_ms}, [this] {
    finish(false, "timed out after " + std::to_string(def_.timeout_ms) + "ms");
  });
  if (def_.kind == "command") {
    start_command();
  } else {
    start_connect();
  }
}

void health_check::cancel() {
  timeout_.cancel();
  if (socket_) {
    loop_.unwatch(socket_.get());
    socket_.reset();
  }
  if (proc_.running()) {
    // A hung check: its whole process group goes, now.
    loop_.unwatch(proc_.pidfd());
    proc_.signal_group(SIGKILL);
    proc_.reap();
  }
  proc_ = child_process{};
  done_ = nullptr;
}

void health_check::finish(bool ok, const std::string& detail) {
  auto done = std::move(done_);
  cancel();
  if (done) {
    done(ok, detail);
  }
}

void health_check::start_connect() {
  connected_ = false;
  sent_ = 0;
  response_.clear();
  socket_.reset(
    ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket_) {
    // Deferred: `done` must not run inside run().
    auto why = std::string{"no socket: "} + std::strerror(errno);
    loop_.after(std::chrono::milliseconds{0}, [this, why] {
      if (running()) {
        finish(false, why);
      }
    });
    return;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(def_.port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Whatever connect says, the socket's readiness tells the outcome.
  ::connect(socket_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  loop_.watch(socket_.get(), EPOLLOUT,
              [this](uint32_t events) { on_socket(events); });
}

void health_check::on_socket(uint32_t) {
  if (!connected_) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      finish(false, std::strerror(err));
      return;
    }
    connected_ = true;
    if (def_.kind == "tcp") {
      finish(true, "connected");
      return;
    }
    request_ = "GET " + def_.path + " HTTP/1.0\r\nHost: " + loopback(def_.port)
               + "\r\nUser-Agent: pcloud-agent\r\nConnection: close\r\n\r\n";
  }
  while (sent_ < request_.size()) {
    auto n = ::send(socket_.get(), request_.data() + sent_,
                    request_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) {
        return; // still EPOLLOUT
      }
      finish(false,
             std::string{"cannot send the request: "} + std::strerror(errno));
      return;
    }
    sent_ += static_cast<size_t>(n);
    if (sent_ == request_.size()) {
      loop_.watch(socket_.get(), EPOLLIN,
                  [this](uint32_t events) { on_socket(events); });
    }
  }
  char buf[4096];
  for (;;) {
    auto n = ::recv(socket_.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EAGAIN) {
        return;
      }
      finish(false,
             std::string{"reading the response: "} + std::strerror(errno));
      return;
    }
    if (n > 0) {
      response_.append(
        buf, std::min(static_cast<size_t>(n), max_response - response_.size()));
    }
    if (n == 0 || response_.size() == max_response) {
      std::string detail;
      bool ok = judge_http(def_, response_, detail);
      finish(ok, detail);
      return;
    }
  }
}

bool health_check::judge_http(const wire::probe_definition& def,
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
  if (status < def.status_min || status > def.status_max) {
    detail += " (wanted " + std::to_string(def.status_min) + "-"
              + std::to_string(def.status_max) + ")";
    return false;
  }
  if (!def.body.empty()) {
    auto end = response.find("\r\n\r\n");
    if (end == std::string::npos
        || response.find(def.body, end + 4) == std::string::npos) {
      detail += " but the body lacks '" + def.body + "'";
      return false;
    }
  }
  return true;
}

void health_check::start_command() {
  launch_spec spec;
  spec.argv = {"/bin/sh", "-c", def_.command};
  spec.quiet = true;
  std::string error;
  proc_ = spawn(spec, error);
  if (!proc_.running()) {
    loop_.after(std::chrono::milliseconds{0}, [this, error] {
      if (running()) {
        finish(false, error);
      }
    });
    return;
  }
  loop_.watch(proc_.pidfd(), EPOLLIN, [this](uint32_t) { on_command_exit(); });
}

void health_check::on_command_exit() {
  loop_.unwatch(proc_.pidfd());
  auto status = proc_.reap();
  proc_ = child_process{};
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  finish(ok, describe_exit(status));
}

} // namespace pcloud::guest
