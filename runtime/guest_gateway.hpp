// The guest gateway: the host end of every agent link. One AMQP connection
// per running assembly, over the domain's virtio-serial channel socket, or
// accepted on a TCP listener from an agent that proves its assembly with its
// incarnation's secret (runtime/agent_secret.hpp); what
// an agent says reaches that assembly's actors as msg::agent_hello and
// msg::resource_report, and the end of a link (EOF, idle timeout of a hung
// guest, a protocol violation) as msg::agent_gone. Everything a guest sends
// is untrusted: checked, size- and rate-limited, and a bad link is closed
// without touching any other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "messages/interfaces.hpp"
#include "runtime/control/sockets.hpp" // listen_tcp for tcp_listener
#include "runtime/result.hpp"

namespace pcloud::runtime {

/// Opens the host end of an assembly's agent link: a connected stream fd.
using agent_connector = std::function<result<int>(const msg::domain_info&)>;

/// Connects to the unix socket QEMU serves for the channel
/// (`domain_info::agent_channel`).
result<int> connect_channel_socket(const msg::domain_info& info);

struct guest_gateway_options {
  agent_connector connect = connect_channel_socket;
  /// A link with no traffic for this long is a hung guest. Counted only
  /// once the agent has spoken: a booting guest has its own boot timeout.
  caf::timespan idle_timeout{std::chrono::seconds(3)};
  /// Sustained bytes per second one guest may send, and the burst on top.
  size_t bytes_per_second = 256 * 1024;
  size_t byte_burst = 1024 * 1024;
  /// Sustained messages per second one guest may send, and the burst.
  size_t messages_per_second = 200;
  size_t message_burst = 2000;
  /// How often a failed connect to a channel socket is retried.
  caf::timespan connect_retry{std::chrono::milliseconds(200)};
  /// A listening TCP socket (listen_tcp) for agents without a channel; the
  /// gateway owns and closes it. -1: no TCP transport.
  int tcp_listener = -1;
  /// An accepted TCP connection must say hello within this, and at most
  /// `max_pending` connections may wait for theirs, `max_pending_per_peer`
  /// of them from one address. A new connection over either limit makes room
  /// by closing the oldest waiting one (of its source, or of all): a flood
  /// cannot keep an agent out, only make it hurry.
  caf::timespan hello_timeout{std::chrono::seconds(5)};
  size_t max_pending = 64;
  size_t max_pending_per_peer = 16;
};

/// Spawns the gateway; its I/O runs on a thread of its own, which ends when
/// the actor does.
msg::guest_gateway_actor spawn_guest_gateway(caf::actor_system& sys,
                                             guest_gateway_options opts = {});

} // namespace pcloud::runtime
