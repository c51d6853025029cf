// pcloudsh's end of the link to pcloudd: a CAF remote actor connection to
// the shell service, every request with the token and a timeout (a request
// to a dead or frozen daemon must not hang the shell).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

#include "messages/error.hpp"
#include "messages/interfaces.hpp"

namespace pcloud::shell {

struct endpoint {
  /// pcloudd's unix socket, used unless `host` is set.
  std::string socket = "/var/lib/pcloud/pcloudd.sock";
  /// A TCP listener of pcloudd (--listen) instead.
  std::string host;
  uint16_t port = 0;
  std::string token;
  /// Connect with mutual TLS: the actor system must have loaded
  /// caf::openssl::manager with the client's certificate, key and CA.
  bool tls = false;
};

/// pcloudsh's actor system: pcloud's message types, the middleman (and
/// the TLS manager with the given files when `where.tls`), one scheduler
/// thread, heartbeats that match pcloudd's.
class client_config : public caf::actor_system_config {
public:
  client_config(const endpoint& where, const std::string& certificate,
                const std::string& key, const std::string& cafile);
};

/// Where `where` points, for messages: the socket path or HOST:PORT.
std::string describe(const endpoint& where);

class client {
public:
  /// Connects and proves the token within `timeout`, after pcloudd has
  /// proved it (runtime/control/handshake.hpp); on failure `error` says
  /// why in one line.
  static std::unique_ptr<client> connect(caf::actor_system& sys,
                                         const endpoint& where,
                                         std::chrono::milliseconds timeout,
                                         msg::error& error);

  /// Runs a daemon command. Transport failures come back as a failed
  /// reply (code unavailable for a timeout or a lost daemon) whose message
  /// starts with "pcloudd: ".
  msg::shell_reply call(const std::string& command,
                        const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout);

  /// Subscribes `listener` to the event stream; returns the recent history
  /// (events the listener may see again: skip sequences already shown).
  bool subscribe(msg::event_listener_actor listener,
                 std::vector<msg::event>& history, msg::error& error);

  /// Attaches `listener` to an assembly's serial console; 0 and `error`
  /// set on failure.
  uint64_t open_console(const std::string& assembly,
                        msg::console_listener_actor listener,
                        msg::error& error);

  /// Sends what was typed; returns at once.
  void console_input(uint64_t session, std::string bytes);

  void close_console(uint64_t session);

  const msg::shell_service_actor& service() const noexcept { return service_; }

private:
  client(caf::actor_system& sys, msg::shell_service_actor service,
         std::string token)
      : sys_(sys), service_(std::move(service)), token_(std::move(token)) {
    // nop
  }

  caf::actor_system& sys_;
  msg::shell_service_actor service_;
  std::string token_;
};

/// Reads a token file (its first line).
bool read_token(const std::string& path, std::string& token,
                std::string& error);

} // namespace pcloud::shell
