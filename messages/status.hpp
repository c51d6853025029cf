// Live state of a deployable and everything in it, as `deployable_status`
// shows it. Children push their status to their parent on every change, so a
// status query is a read, not a fan-out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/event.hpp"

namespace pcloud::msg {

struct resource_status {
  std::string name;
  msg::state state = state::stopped;
  std::string reason;
  uint32_t restarts = 0;
  uint32_t failures_in_window = 0;
  /// The probe's last verdict ("ok: status 200", "failing 2/3: timed out
  /// after 500ms"), empty before the first of this run; and when pcloudd heard
  /// it (milliseconds since the epoch). The agent reports changes only: a
  /// verdict stays true until the next.
  std::string probe;
  int64_t probe_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_status& x) {
  return f(caf::meta::type_name("resource_status"), x.name, x.state, x.reason,
           x.restarts, x.failures_in_window, x.probe, x.probe_at_ms);
}

struct assembly_status {
  std::string name;
  msg::state state = state::stopped;
  std::string reason;
  std::string domain_name;
  uint64_t incarnation = 0;
  uint32_t restarts = 0;
  uint32_t failures_in_window = 0;
  std::vector<resource_status> resources;
  /// The guest's addresses as its agent reported them in its hello.
  std::vector<std::string> addresses;
  /// Of those, where its services are reached on a libvirt network (in the
  /// network's subnet); empty on other networks or before the lease.
  std::string service_address;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, assembly_status& x) {
  return f(caf::meta::type_name("assembly_status"), x.name, x.state, x.reason,
           x.domain_name, x.incarnation, x.restarts, x.failures_in_window,
           x.resources, x.addresses, x.service_address);
}

struct deployable_status {
  std::string name;
  msg::state state = state::stopped;
  std::string reason;
  uint32_t restarts = 0;
  std::vector<assembly_status> assemblies;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deployable_status& x) {
  return f(caf::meta::type_name("deployable_status"), x.name, x.state, x.reason,
           x.restarts, x.assemblies);
}

} // namespace pcloud::msg
