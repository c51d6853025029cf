// What guest agents report and what the host asks of them. The guest gateway
// (runtime/) decodes the AMQP wire format into these types after checking it;
// every report names the assembly and domain incarnation whose link carried it,
// so a guest can only ever speak for its own assembly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/definitions.hpp"

namespace pcloud::msg {

/// Version of the host <-> agent protocol spoken by this build.
constexpr uint32_t guest_protocol_version = 1;

/// The agent of an assembly connected (or reconnected) and introduced itself.
struct agent_hello {
  std::string assembly;
  uint64_t incarnation = 0;
  uint32_t protocol_version = 0;
  std::string agent_version;
  /// Changes with every guest boot; the same boot id after a reconnect means
  /// the guest kept running while the link was down.
  std::string boot_id;
  std::vector<std::string> addresses;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_hello& x) {
  return f(caf::meta::type_name("agent_hello"), x.assembly, x.incarnation,
           x.protocol_version, x.agent_version, x.boot_id, x.addresses);
}

/// The agent link of an assembly is gone: EOF on the channel, idle timeout
/// (a hung guest), or a protocol violation that made the gateway close it.
struct agent_gone {
  std::string assembly;
  uint64_t incarnation = 0;
  std::string reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_gone& x) {
  return f(caf::meta::type_name("agent_gone"), x.assembly, x.incarnation,
           x.reason);
}

/// The guest's addresses after its hello changed (a late DHCP lease): all
/// of them now.
struct agent_addresses {
  std::string assembly;
  uint64_t incarnation = 0;
  std::vector<std::string> addresses;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_addresses& x) {
  return f(caf::meta::type_name("agent_addresses"), x.assembly, x.incarnation,
           x.addresses);
}

enum class resource_condition : uint8_t {
  /// Started by the agent, or found running by a monitor or probe.
  running,
  /// Stopped on request.
  stopped,
  /// Died or failed its monitor while it was meant to run.
  failed,
  /// A start operation did not succeed.
  start_failed,
};

std::string to_string(resource_condition x);

/// A resource changed state inside the guest; `cause` explains why in words
/// ("killed by signal 9", "monitor returned 7 (not running)").
struct resource_report {
  std::string assembly;
  uint64_t incarnation = 0;
  std::string resource;
  resource_condition condition = resource_condition::failed;
  std::string cause;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_report& x) {
  return f(caf::meta::type_name("resource_report"), x.assembly, x.incarnation,
           x.resource, x.condition, x.cause);
}

/// A resource's probe changed its verdict inside the guest: it passed
/// after failing (or for the first time), or it failed once more.
struct probe_report {
  std::string assembly;
  uint64_t incarnation = 0;
  std::string resource;
  bool ok = false;
  /// Consecutive failures so far (0 when ok).
  uint32_t failures = 0;
  /// "status 200", "connection refused", "timed out after 500ms".
  std::string detail;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, probe_report& x) {
  return f(caf::meta::type_name("probe_report"), x.assembly, x.incarnation,
           x.resource, x.ok, x.failures, x.detail);
}

enum class resource_operation : uint8_t {
  start,
  stop,
  /// Stop, then start again.
  restart,
  /// Run the monitor now and report the result.
  monitor,
};

std::string to_string(resource_operation x);

/// The host asks the agent of `assembly` to act on one of its resources.
struct resource_command {
  std::string assembly;
  std::string resource;
  resource_operation operation = resource_operation::start;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_command& x) {
  return f(caf::meta::type_name("resource_command"), x.assembly, x.resource,
           x.operation);
}

} // namespace pcloud::msg
