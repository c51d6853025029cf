#pragma once

#include <optional>
#include <string>

#include "actors/context.hpp"
#include "actors/guest_address.hpp"
#include "actors/level.hpp"
#include "actors/restart_tracker.hpp"
#include "messages/interfaces.hpp"

namespace pcloud::actors {

struct assembly_state {
  static inline const char* name = "pcloud.assembly";

  /// Where the assembly is in its VM's life cycle.
  enum class phase {
    /// Nothing in flight: the VM runs (or is not meant to).
    idle,
    /// Waiting for the backoff timer before a restart.
    backoff,
    /// Destroying the old domain before starting it again.
    destroying,
    /// Asked the hypervisor to start the domain.
    starting_domain,
    /// Domain started, waiting for the agent's hello.
    booting,
    /// The agent said hello (its resources are starting); on a libvirt
    /// network the guest has no address yet.
    addressing,
    /// Shutting the VM down on request.
    stopping,
  };

  msg::assembly_spec spec;
  tree_context ctx;
  msg::assembly_parent_actor parent;
  restart_tracker tracker;
  msg::state current = msg::state::stopped;
  phase now = phase::idle;
  /// Bumped whenever pending timers and replies must be ignored.
  uint64_t generation = 0;
  /// The domain incarnation this assembly is running; 0 for none.
  msg::domain_info domain;
  level::resources resources;
  uint32_t restarts = 0;
  std::string reason;
  /// What the guest names, its network's subnets and its DHCP lease;
  /// forgotten when the VM goes.
  guest_address address;
  /// Bumped per lease request: only the newest reply and retry count.
  uint64_t lease_round = 0;
  /// libvirt's word on this incarnation's death was heard (as its cause or
  /// after a faster signal): said once.
  bool death_named = false;
  /// Lease requests since the guest last named new addresses.
  uint32_t lease_asks = 0;
  /// What the hello said, for the reason ACTIVE gives once the guest has
  /// its address.
  std::string hello_reason;
  std::optional<caf::actor_clock::time_point> failed_at;
};

/// Keeps one VM and its resources running. `spec.escalation` and each
/// resource's `escalation` must be set (the deployable resolves defaults).
msg::assembly_actor::behavior_type
assembly(msg::assembly_actor::stateful_pointer<assembly_state> self,
         msg::assembly_spec spec, tree_context ctx,
         msg::assembly_parent_actor parent);

} // namespace pcloud::actors
