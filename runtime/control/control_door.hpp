// The door in front of pcloudd's shell service: it owns the listening
// sockets (a root-only unix socket, and TCP where configured), runs the
// control handshake (handshake.hpp) with every peer on a thread of its own,
// and hands only connections that proved the token to CAF. Until then a
// peer is bounded: a fixed-size frame, a deadline, a cap on handshakes in
// progress per peer and in all; when a cap is reached the oldest waiting
// peer is dropped, so a flood of idle connections cannot lock operators
// out and cannot use up pcloudd's descriptors.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "runtime/posix/unique_fd.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime::control {

struct door_options {
  /// What peers must prove they hold.
  std::string token;
  /// A unix socket, mode 0600 (empty: none).
  std::string socket_path;
  /// A TCP listener (empty address: none; port 0 picks a free one).
  std::string tcp_address;
  uint16_t tcp_port = 0;
  /// A peer that has not finished the handshake by then is dropped.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(5)};
  /// Handshakes in progress per listener, all peers together, and per
  /// peer (a TCP source address, a unix socket peer's uid).
  size_t max_pending = 64;
  size_t max_pending_per_peer = 16;
};

/// What the door has done, for logs and tests.
struct door_counters {
  uint64_t admitted = 0;
  uint64_t refused = 0;   ///< wrong token or not the handshake
  uint64_t timed_out = 0; ///< no handshake within handshake_timeout
  uint64_t evicted = 0;   ///< dropped to make room under a cap
};

class control_door {
public:
  /// Called on the door's thread with each connection that proved the
  /// token, and a description of the peer for the log.
  using admit_function
    = std::function<void(posix::unique_fd, const std::string& peer)>;

  static result<std::unique_ptr<control_door>> open(door_options opts,
                                                    admit_function admit);

  /// Stops the thread, closes every socket and removes the unix socket.
  ~control_door();

  control_door(const control_door&) = delete;
  control_door& operator=(const control_door&) = delete;

  /// The TCP port (0 without a TCP listener).
  uint16_t tcp_port() const noexcept { return tcp_port_; }

  door_counters counters() const;

private:
  struct loop;

  control_door() = default;

  std::unique_ptr<loop> loop_;
  std::thread thread_;
  posix::unique_fd wake_;
  uint16_t tcp_port_ = 0;
  std::string socket_path_;
};

} // namespace pcloud::runtime::control
