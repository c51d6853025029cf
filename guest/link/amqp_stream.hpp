// One AMQP 1.0 connection over a non-blocking file descriptor: a proton
// connection_driver fed from read(2) and drained with write(2). Both ends of
// the guest link use it: the agent over its virtio-serial port, the host's
// gateway over the channel's unix socket. It owns the descriptor and never
// blocks; the owner's event loop calls it when the fd is ready or a tick is
// due.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <proton/connection_options.hpp>
#include <proton/io/connection_driver.hpp>

#include "runtime/posix/unique_fd.hpp"

namespace pcloud::guest {

class amqp_stream {
public:
  /// Owns `fd` (made non-blocking here) and closes it when destroyed. A
  /// server waits for the peer's open; a client opens the connection at
  /// once.
  ///
  /// A server also skips whatever arrives before the peer's AMQP protocol
  /// header: a virtio-serial port has no connection boundaries, so frames an
  /// agent wrote on its previous connection can reach a host that has just
  /// reconnected. The server's own header makes such an agent start over.
  amqp_stream(posix::unique_fd fd, const proton::connection_options& opts,
              bool server);
  amqp_stream(const amqp_stream&) = delete;
  amqp_stream& operator=(const amqp_stream&) = delete;
  ~amqp_stream() = default;

  int fd() const { return fd_.get(); }

  /// Reads what is there, dispatches handler events, writes what is due.
  /// `max_bytes` bounds one call's reads so a flooding peer cannot hold the
  /// loop; returns the number of bytes read.
  size_t on_readable(size_t max_bytes = 256 * 1024);
  /// Dispatches pending events and writes what can be written (after the
  /// handler queued messages from outside an event).
  void process();
  /// Idle-timeout bookkeeping; returns when to call again (0: no timer).
  /// A server starts counting once the peer has sent its first byte, so a
  /// guest that is still booting never times out.
  int64_t tick();
  /// Ends the connection: the handler sees a transport error with `why`.
  void fail(const std::string& name, const std::string& why);

  bool wants_write();
  /// Both directions are closed: the owner may drop the stream.
  bool finished() const;
  uint64_t bytes_read() const { return bytes_read_; }
  proton::connection connection();

private:
  void flush();
  /// Feeds `n` bytes to proton, after the header search if it is on.
  void feed(const char* data, size_t n);

  posix::unique_fd fd_;
  bool is_socket_ = false;
  bool started_ticking_ = false;
  /// Server only: still looking for the peer's protocol header.
  bool seeking_header_ = false;
  std::string seen_;
  size_t skipped_ = 0;
  static constexpr size_t max_skipped = 64 * 1024;
  bool active_ = true;
  uint64_t bytes_read_ = 0;
  proton::io::connection_driver driver_;
};

/// Milliseconds since the epoch, the clock proton's tick() expects.
int64_t proton_now_ms();

} // namespace pcloud::guest
