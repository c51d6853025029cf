// The daemon's wiring: everything pcloudd runs, in one actor system. The
// store loads the definitions, the hypervisor opens libvirt, the gateway
// waits for agents, and the shell service is served to pcloudsh through the
// control door (runtime/control): a unix socket only root can open, and a
// TCP port where configured, both admitting only peers that prove the
// token.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"
#include "runtime/control/control_door.hpp"
#include "runtime/guest_gateway.hpp"
#include "runtime/posix/unique_fd.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime {

struct daemon_options {
  /// Definitions, images, sockets, logs and the shell token live here.
  std::string state_dir = "/var/lib/pcloud";
  /// Empty: qemu:///embed?root=STATE/libvirt (no libvirt daemon needed).
  std::string libvirt_uri;
  /// "qemu" (TCG) or "kvm".
  std::string virt_type = "qemu";
  /// The network of assemblies that name none; empty: "user" on embed,
  /// libvirt's "default" on qemu:///system.
  std::string network;
  /// User-mode networking forwards host ports from this address, allocated
  /// from this range.
  std::string forward_address = "127.0.0.1";
  uint16_t forward_first = 20000;
  uint16_t forward_last = 29999;
  /// The TCP listener for agents without a channel (doc/guest-link.md);
  /// empty: none. An agent proves its assembly with the assembly's secret.
  std::string agent_listen_address;
  /// 0 picks a free port (tests); the agent's default is 49000.
  uint16_t agent_listen_port = 49000;
  /// The control socket; empty: STATE/pcloudd.sock.
  std::string socket_path;
  /// A TCP listener for pcloudsh on other hosts or ports; empty address:
  /// none (the default: user-mode guests reach the host's loopback).
  std::string listen_address;
  /// 0 picks a free port (tests).
  uint16_t listen_port = 7460;
  /// Mutual TLS for the shell service (PEM files; the key unencrypted).
  /// Required when the listen address is not loopback; the CAF system must
  /// then have loaded caf::openssl::manager with the same files.
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_cafile;
  bool tls() const { return !tls_certificate.empty(); }
  /// Schemas, templates and JEOS recipes.
  std::string conf_dir;
  /// pcloud-agent and its libraries for the images that carry it.
  std::string agent_bundle;
  /// A guest's console log past this moves to LOG.1.
  size_t console_log_max = 4 * 1024 * 1024;
  /// Notification hooks; empty: STATE/hooks.
  std::string hooks_dir;
  std::chrono::milliseconds hooks_timeout{30000};
  /// How the gateway reaches agents (tests plug in scripted ones).
  guest_gateway_options gateway;
};

/// Whether `address` only accepts connections from this host.
bool is_loopback(const std::string& address);

/// Checks the TLS settings: all three files or none, readable PEM, key not
/// encrypted (CAF 0.17 would abort at the first connection), and TLS for a
/// listener that is not loopback. Empty when fine.
std::string check_tls(const daemon_options& opts);

/// STATE/shell.token: created with mode 0600 when missing.
std::string token_path(const std::string& state_dir);

/// STATE/shell.address: "ADDRESS:PORT" of the running shell service's TCP
/// listener, when it has one.
std::string address_path(const std::string& state_dir);

/// The control socket of `opts`.
std::string socket_path_of(const daemon_options& opts);

/// Reads a secret file (the shell token), or creates it with
/// 64 random hex digits, mode 0600.
result<std::string> load_or_create_secret(const std::string& path);

/// The resolved libvirt URI of `opts`.
std::string libvirt_uri_of(const daemon_options& opts);

/// pcloudd's exit status when its shell service (the deployables'
/// supervisor) ended without being asked (EX_SOFTWARE).
constexpr int exit_status_shell_lost = 70;

class daemon {
public:
  /// Wires and starts everything; deployables that were running start
  /// again (adopting their VMs). Fails with a one-line error when the
  /// state directory, libvirt, the schema or the port are unusable.
  static result<std::unique_ptr<daemon>> start(caf::actor_system& sys,
                                               daemon_options opts);

  ~daemon();

  /// The TCP port the shell service listens on (0: none).
  uint16_t port() const noexcept { return port_; }

  const std::string& token() const noexcept { return token_; }

  /// Ends every actor; VMs keep running (the next start adopts them).
  void stop();

private:
  daemon(caf::actor_system& sys) : sys_(sys) {
    // nop
  }

  caf::actor_system& sys_;
  uint16_t port_ = 0;
  std::string token_;
  std::vector<caf::actor> actors_;
  std::unique_ptr<control::control_door> door_;
  /// STATE/shell.address, when written (removed at stop).
  std::string address_file_;
  bool stopped_ = false;
  /// Set before stop() ends the actors: their end is then expected.
  std::shared_ptr<std::atomic<bool>> stopping_
    = std::make_shared<std::atomic<bool>>(false);
  /// The shell service is also published by CAF's TLS module.
  bool tls_published_ = false;
  /// Held (flock) while this daemon runs on its state directory; closed
  /// (the next pcloudd may start) once the destructor has stopped it.
  posix::unique_fd lock_fd_;
};

} // namespace pcloud::runtime
