#include "guest/link/amqp_stream.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

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

amqp_stream::amqp_stream(posix::unique_fd fd,
                         const proton::connection_options& opts, bool server)
    : fd_(std::move(fd)) {
  fcntl(fd_.get(), F_SETFL, fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
  struct stat st {};
  is_socket_ = fstat(fd_.get(), &st) == 0 && S_ISSOCK(st.st_mode);
  started_ticking_ = !server;
  if (server) {
    seeking_header_ = true;
    driver_.accept(opts);
  } else {
    driver_.connect(opts);
  }
  flush();
}

proton::connection amqp_stream::connection() {
  return driver_.connection();
}

size_t amqp_stream::on_readable(size_t max_bytes) {
  size_t total = 0;
  char buf[16384];
  while (total < max_bytes) {
    auto room = driver_.read_buffer().size;
    if (room == 0) {
      break; // proton cannot take more until it has dispatched
    }
    auto want = std::min({room, max_bytes - total, sizeof(buf)});
    ssize_t n = ::read(fd_.get(), buf, want);
    if (n > 0) {
      total += static_cast<size_t>(n);
      feed(buf, static_cast<size_t>(n));
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

void amqp_stream::feed(const char* data, size_t n) {
  if (seeking_header_) {
    // AMQP 1.0 without SASL: "AMQP" 0 1 0 0.
    static const std::string header{"AMQP\x00\x01\x00\x00", 8};
    seen_.append(data, n);
    auto at = seen_.find(header);
    if (at == std::string::npos) {
      // Keep a tail that may be the start of a header split across reads.
      if (seen_.size() > header.size()) {
        skipped_ += seen_.size() - header.size();
        seen_.erase(0, seen_.size() - header.size());
      }
      if (skipped_ > max_skipped) {
        driver_.disconnected(proton::error_condition(
          "amqp:connection:framing-error",
          "no AMQP protocol header in the first "
            + std::to_string(max_skipped / 1024) + " KiB"));
      }
      return;
    }
    seeking_header_ = false;
    auto rest = seen_.substr(at);
    seen_.clear();
    feed(rest.data(), rest.size());
    return;
  }
  while (n > 0) {
    auto buf = driver_.read_buffer();
    auto chunk = std::min(buf.size, n);
    if (chunk == 0) {
      // proton's buffer is full: let it work, then go on.
      driver_.dispatch();
      buf = driver_.read_buffer();
      chunk = std::min(buf.size, n);
      if (chunk == 0) {
        driver_.disconnected(
          proton::error_condition("io", "input buffer overrun"));
        return;
      }
    }
    std::memcpy(buf.data, data, chunk);
    driver_.read_done(chunk);
    data += chunk;
    n -= chunk;
  }
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
    ssize_t n = is_socket_ ? ::send(fd_.get(), buf.data, buf.size, MSG_NOSIGNAL)
                           : ::write(fd_.get(), buf.data, buf.size);
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
