#pragma once

#include <optional>
#include <string>

#include "actors/context.hpp"
#include "actors/restart_tracker.hpp"
#include "messages/interfaces.hpp"

namespace pcloud::actors {

struct resource_state {
  static inline const char* name = "pcloud.resource";

  /// What the resource is doing about a failure.
  enum class recovery {
    /// Nothing pending.
    none,
    /// Waiting for the backoff timer.
    backoff,
    /// Restart sent to the agent, waiting for its result.
    restarting,
    /// The VM is being recovered by the assembly; wait for `start`.
    vm,
  };

  /// Only the name: the agent holds the rest of the spec (a resource actor
  /// exists per supervised resource, so its state is kept lean).
  std::string resource;
  std::string assembly;
  tree_context ctx;
  msg::resource_parent_actor parent;
  restart_tracker tracker;
  msg::state current = msg::state::stopped;
  recovery pending = recovery::none;
  /// Bumped whenever a pending timer must be ignored when it fires.
  uint64_t generation = 0;
  uint32_t restarts = 0;
  std::string reason;
  /// When the failure being recovered from was seen.
  std::optional<caf::actor_clock::time_point> failed_at;
  /// The probe's failures that fail the resource (0: no probe), and its
  /// last verdict as status shows it.
  uint32_t probe_failures = 0;
  std::string probe;
  int64_t probe_at_ms = 0;
  /// What the host checks before calling the resource ACTIVE: its first TCP
  /// port, by a GET when its probe is an http probe of that port (else a
  /// connect). None: the agent's word is enough.
  std::optional<msg::service_port> reach_port;
  msg::probe_spec reach_probe;
  /// Where the assembly's services are reached now.
  msg::service_route route;
  /// The agent says it runs; ACTIVE waits for the service to answer.
  bool reaching = false;
  /// What the agent said ("started (pid 7), ready in 80ms (...)").
  std::string ready_cause;
  /// Confirming a resource of an adopted VM: its ACTIVE says "adopted".
  bool adopting = false;
  /// The check in flight (or the timer before the next): older results and
  /// timers are ignored.
  uint64_t reach_id = 0;
  /// When the waiting began, and what the last check said.
  caf::actor_clock::time_point reach_since;
  std::string reach_detail;
  /// How long it may stay out of reach: 60 s once an agent saw it run
  /// (only the way to it is missing); without an agent the guest's boot
  /// counts too, so the assembly's boot timeout.
  caf::timespan reach_limit = std::chrono::seconds(60);
  /// The guest has no agent: the host's checks of the port are the only
  /// word on the service, repeated while it is ACTIVE (`watching`), and a
  /// failure is the VM's to recover.
  bool agentless = false;
  bool watching = false;
  uint32_t watch_failures = 0;
};

/// Keeps one resource inside one guest running. `spec.escalation` must be set
/// (the deployable resolves defaults before spawning).
msg::resource_actor::behavior_type
resource(msg::resource_actor::stateful_pointer<resource_state> self,
         msg::resource_spec spec, std::string assembly, tree_context ctx,
         msg::resource_parent_actor parent);

} // namespace pcloud::actors
