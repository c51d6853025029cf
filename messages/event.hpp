// Every state change in the supervision tree, with its reason and the action
// taken. The event bus orders them; pcloudsh, the log and notification hooks
// render them.
#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>
#include <caf/typed_actor.hpp>

namespace pcloud::msg {

/// The states an operator sees, for resources, assemblies and deployables.
enum class state : uint8_t {
  /// Not meant to run.
  stopped,
  /// Meant to run, first start in progress.
  starting,
  /// Running and healthy.
  active,
  /// Failed; a corrective action is in progress.
  recovering,
  /// Gave up: recovery at this level exceeded its intensity, or the
  /// deployable policy stopped it. Needs the operator.
  failed,
};

/// "ACTIVE", "RECOVERING", ...
std::string to_string(state x);

struct event {
  /// Assigned by the event bus: strictly increasing, starting at 1.
  uint64_t sequence = 0;
  /// Wall clock time at which the actor saw the change.
  caf::timestamp time;
  std::string deployable;
  /// Empty for an event about the deployable itself.
  std::string assembly;
  /// Empty for an event about an assembly or deployable.
  std::string resource;
  msg::state state = state::stopped;
  /// What happened, in words: "killed by signal 9", "restarted in 14 ms".
  std::string reason;
  /// The corrective action taken, if any: "restarting", "restarting VM".
  std::string action;
  /// Failures counted in the current intensity window, including this one.
  uint32_t failures = 0;
  /// The intensity limit in force; 0 when escalation is off.
  uint32_t max_failures = 0;
  caf::timespan window{0};
  /// Restarts of this thing since its deployable started.
  uint32_t restarts = 0;
  /// For ACTIVE after a recovery: time from the failure to ACTIVE again.
  caf::timespan downtime{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("event"), x.sequence, x.time, x.deployable,
           x.assembly, x.resource, x.state, x.reason, x.action, x.failures,
           x.max_failures, x.window, x.restarts, x.downtime);
}

/// Receives every event, in the order the bus numbered them. pcloudsh's
/// listeners cross the remote link, so the handle type has a type ID.
using event_listener_actor = caf::typed_actor<caf::reacts_to<event>>;

/// "dep1/assy2/httpd": the path of the thing an event is about.
std::string path_of(const event& x);

/// One line for people, e.g.
/// "dep1/assy2/httpd RECOVERING: killed by signal 9 -> restarting (1 of 5 in
/// 60s)" or "dep1/assy2/httpd ACTIVE: restarted in 14 ms".
std::string to_string(const event& x);

} // namespace pcloud::msg
