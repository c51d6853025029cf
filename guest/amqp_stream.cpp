#include "guest/amqp_stream.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <proton/connection.hpp>
#include <proton/error_condition.hpp>
#include <proton/timestamp.hpp>
#include <proton/transport.hpp>

namespace pcloud::guest {

int64_t proton_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

amqp_stream::amqp_stream(int fd, const proton::connection_options& opts,
                         bool server)
    : fd_(fd) {
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  struct stat st {};
  is_socket_ = fstat(fd_, &st) == 0 && S_ISSOCK(st.st_mode);
  if (server) {
    driver_.accept(opts);
  } else {
    driver_.connect(opts);
  }
  flush();
}

amqp_stream::~amqp_stream() {
  close(fd_);
}

proton::connection amqp_stream::connection() {
  return driver_.connection();
}

size_t amqp_stream::on_readable(size_t max_bytes) {
  size_t total = 0;
  while (total < max_bytes) {
    auto buf = driver_.read_buffer();
    if (buf.size == 0) {
      break; // proton cannot take more until it has dispatched
    }
    auto want = std::min(buf.size, max_bytes - total);
    ssize_t n = ::read(fd_, buf.data, want);
    if (n > 0) {
      driver_.read_done(static_cast<size_t>(n));
      total += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      driver_.disconnected(
        proton::error_condition("eof", "peer closed the link"));
      break;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      driver_.disconnected(
        proton::error_condition("io", std::string{"read: "} + strerror(errno)));
    }
    break;
  }
  bytes_read_ += total;
  process();
  return total;
}

void amqp_stream::process() {
  active_ = driver_.dispatch();
  flush();
  // Writing may have produced events (a closed write side, for instance).
  active_ = driver_.dispatch();
}

void amqp_stream::flush() {
  for (;;) {
    auto buf = driver_.write_buffer();
    if (buf.size == 0) {
      return;
    }
    ssize_t n = is_socket_ ? ::send(fd_, buf.data, buf.size, MSG_NOSIGNAL)
                           : ::write(fd_, buf.data, buf.size);
    if (n > 0) {
      driver_.write_done(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return; // the owner watches for writability
    }
    driver_.disconnected(proton::error_condition(
      "io",
      std::string{"write: "} + (n == 0 ? "nothing written" : strerror(errno))));
    return;
  }
}

int64_t amqp_stream::tick() {
  if (!started_ticking_) {
    if (bytes_read_ == 0) {
      return 0;
    }
    started_ticking_ = true;
  }
  auto next = driver_.tick(proton::timestamp(proton_now_ms()));
  process();
  return next.milliseconds();
}

void amqp_stream::fail(const std::string& name, const std::string& why) {
  driver_.disconnected(proton::error_condition(name, why));
  active_ = driver_.dispatch();
}

bool amqp_stream::wants_write() {
  return driver_.write_buffer().size > 0;
}

bool amqp_stream::finished() const {
  return !active_;
}

} // namespace pcloud::guest
