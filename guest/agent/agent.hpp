// pcloud-agent's core: keeps the host link up (reopening the transport after
// every EOF, a new AMQP connection each time), says hello, takes the host's
// resource set and commands, and reports every change of every resource.
// Runs entirely on one event_loop; the transport is whatever `open` returns
// (the virtio-serial port in a guest, one end of a socketpair in a test).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>

#include "guest/agent/managed_resource.hpp"
#include "guest/link/amqp_stream.hpp"
#include "guest/link/event_loop.hpp"
#include "guest/link/wire.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::guest {

struct agent_options {
  /// The assembly this guest belongs to, when known (kernel command line);
  /// otherwise the host's configure message tells.
  std::string assembly;
  std::string agent_version;
  std::string boot_id;
  std::string ocf_root = "/usr/lib/ocf";
  /// The secret of this VM's incarnation, for the TCP transport: host and
  /// agent prove to each other that they hold it (guest/link/proof.hpp)
  /// before the agent takes any message. Empty on a channel, which needs
  /// none.
  std::string secret;
  /// Opens the transport to the host: an fd, or -1 with `error` set.
  std::function<int(std::string& error)> open;
  /// A host link silent for this long is dead. This also ends a connection
  /// that the host no longer speaks: a virtio-serial port does not always
  /// show the host reconnecting (pcloudd restarted), and the new host waits
  /// for this agent's fresh protocol header.
  std::chrono::milliseconds idle_timeout{3000};
  /// Reopen delays after EOF or a failed open: doubling from min to max.
  std::chrono::milliseconds reconnect_min{20};
  std::chrono::milliseconds reconnect_max{500};
};

class agent : private proton::messaging_handler {
public:
  agent(event_loop& loop, agent_options opts);
  ~agent() override;

  /// Opens the transport; everything else follows from events.
  void start();

  /// For tests and logs: whether a host link is up (configure received).
  bool configured() const { return configured_; }

private:
  // proton events
  void on_connection_open(proton::connection& c) override;
  void on_sendable(proton::sender& s) override;
  void on_message(proton::delivery& d, proton::message& m) override;
  void on_transport_error(proton::transport& t) override;
  void on_connection_close(proton::connection& c) override;
  /// proton's default throws; an error on any endpoint ends the link.
  void on_error(const proton::error_condition& e) override;

  void connect();
  /// Address changes come as netlink events (a DHCP lease after the hello):
  /// the host hears the new set while the link is up, else in the next hello.
  void watch_addresses();
  void on_address_event();
  void report_addresses();
  void link_down(const std::string& why);
  void link_down_later(const std::string& why);
  void schedule_reconnect();
  void send(proton::message m);
  void flush_outbox();
  void watch_stream();
  void on_tick();

  void handle(const wire::challenge& c);
  void handle(const wire::configure& cfg);
  void handle(const wire::command& cmd);
  /// Ends this connection without taking anything more from it.
  void distrust(const std::string& why);
  void report(const std::string& resource, const std::string& condition,
              const std::string& cause);
  void retire(std::unique_ptr<managed_resource> r);
  void drop_idle_retired();

  event_loop& loop_;
  agent_options opts_;
  std::unique_ptr<amqp_stream> stream_;
  proton::sender sender_;
  std::deque<proton::message> outbox_;
  bool configured_ = false;
  /// This connection's nonce (TCP), and whether its host has proven the
  /// secret; on a channel it is proven by being the channel.
  std::string nonce_;
  bool host_proven_ = false;
  /// The host of this connection failed a check: nothing more is taken.
  bool distrusted_ = false;
  std::string last_distrust_;
  /// NETLINK_ROUTE socket for address events; empty without.
  posix::unique_fd netlink_;
  /// What the host was last told.
  std::vector<std::string> addresses_;
  std::chrono::milliseconds reconnect_delay_;
  scoped_timer reconnect_timer_;
  scoped_timer tick_timer_;
  struct entry {
    /// Tells a resource's reports from those of an earlier one of the same
    /// name that is still stopping.
    uint64_t serial;
    std::unique_ptr<managed_resource> resource;
  };
  std::map<std::string, entry> resources_;
  uint64_t next_serial_ = 1;
  /// Inside a proton event: sends are written out when it returns.
  bool in_event_ = false;
  /// Removed from the configuration, stopping; dropped once idle.
  std::vector<std::unique_ptr<managed_resource>> retiring_;
  std::string last_open_error_;
};

/// The boot id of this kernel (/proc/sys/kernel/random/boot_id).
std::string read_boot_id();

/// The non-loopback IPv4 and IPv6 addresses of this machine.
std::vector<std::string> local_addresses();

/// One line on stderr: "pcloud-agent: <text>".
void agent_log(const std::string& text);

} // namespace pcloud::guest
