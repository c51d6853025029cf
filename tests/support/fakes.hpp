// Fakes of the outside world for tests of the supervision tree: a hypervisor
// and a guest gateway that record what they are asked and answer as scripted,
// and a listener that records every event. They run as actors on the same
// deterministic scheduler as the actors under test.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "messages/interfaces.hpp"

namespace pcloud::test {

/// Registers pcloud's types and selects CAF's deterministic scheduler.
class deterministic_config : public caf::actor_system_config {
public:
  deterministic_config();
};

/// What the fake hypervisor was asked, and what it will answer.
struct hypervisor_script {
  /// "start assy1", "destroy assy1", "shutdown assy1", in order.
  std::vector<std::string> calls;
  std::map<std::string, msg::domain_listener_actor> listeners;
  /// The incarnation each assembly's domain runs as now; 0 when not running.
  std::map<std::string, uint64_t> incarnations;
  uint64_t next_incarnation = 1;
  /// The next this many starts fail.
  int failing_starts = 0;
  /// The next start of these assemblies finds their domain running: it is
  /// adopted (as after a pcloudd restart).
  std::set<std::string> running_domains;
  /// Host ports something outside pcloud has bound.
  std::set<uint16_t> busy_ports;
  /// The libvirt networks the fake host defines, and the subnets of some.
  std::vector<std::string> networks{"default"};
  std::map<std::string, std::vector<std::string>> subnets;
  /// DHCP leases by assembly. Without an entry its network hands out none
  /// (not_found), as a network without <dhcp>.
  std::map<std::string, std::vector<std::string>> leases;

  size_t count(const std::string& call) const;
};

/// What the fake guest gateway was asked, and how its fake agents behave.
struct gateway_script {
  struct link {
    msg::domain_info domain;
    msg::guest_listener_actor listener;
    std::vector<msg::resource_spec> resources;
    /// False once pcloud detached: the listener is kept for tests that
    /// play a late message of the old link.
    bool attached = true;
  };
  /// "attach assy1#1", "detach assy1", "restart assy1/httpd", ...
  std::vector<std::string> calls;
  std::map<std::string, link> links;
  /// Agents say hello as soon as the gateway attaches.
  bool auto_hello = true;
  /// Agents report a resource running as soon as they start it.
  bool auto_running = true;
  /// Keep the resource specs of each link (benchmarks that hold thousands
  /// of links turn this off, so the figures show the tree, not the fake).
  bool keep_resources = true;

  size_t count(const std::string& call) const;
};

/// What the fake service prober was asked, and what it answers.
struct prober_script {
  /// "tcp 127.0.0.1:20080 (forwarded)", "http 192.0.2.7:80/", in order.
  std::vector<std::string> calls;
  /// Whether services answer; checks are answered at once unless `silent`.
  bool reachable = true;
  bool silent = false;
};

/// The secret the fake hypervisor gives every incarnation of a TCP-transport
/// `assembly` (the real one makes a random one per incarnation).
inline std::string fake_agent_secret(const std::string& assembly) {
  return "fake-secret-of-" + assembly;
}

msg::hypervisor_actor spawn_fake_hypervisor(caf::actor_system& sys,
                                            std::shared_ptr<hypervisor_script>);

msg::guest_gateway_actor spawn_fake_gateway(caf::actor_system& sys,
                                            std::shared_ptr<gateway_script>);

msg::service_prober_actor spawn_fake_prober(caf::actor_system& sys,
                                            std::shared_ptr<prober_script>);

msg::event_listener_actor
spawn_event_recorder(caf::actor_system& sys,
                     std::shared_ptr<std::vector<msg::event>> sink);

/// An exec resource spec without escalation settings of its own.
msg::resource_spec make_resource(std::string name);

/// An assembly with one resource per name.
msg::assembly_spec make_assembly(std::string name,
                                 std::vector<std::string> resources);

} // namespace pcloud::test
