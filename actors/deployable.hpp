#pragma once

#include <string>

#include "actors/context.hpp"
#include "actors/level.hpp"
#include "actors/restart_tracker.hpp"
#include "messages/interfaces.hpp"

namespace pcloud::actors {

struct deployable_state {
  static inline const char* name = "pcloud.deployable";

  msg::deployable_spec spec;
  tree_context ctx;
  /// Counts restart-all actions against `max_restarts` per `restart_window`.
  restart_tracker tracker;
  msg::state current = msg::state::stopped;
  /// Whether the operator wants it running.
  bool wanted = false;
  /// The policy gave up: FAILED stays until the operator starts or stops it.
  bool gave_up = false;
  /// A restart-all is under way until every assembly is ACTIVE again.
  bool restarting_all = false;
  level::assemblies assemblies;
  uint32_t restarts = 0;
  std::string reason;
};

/// Escalation defaults of the deployable applied to every assembly and
/// resource that sets none of its own.
msg::deployable_spec resolve_defaults(msg::deployable_spec spec);

/// Runs a set of assemblies and applies the deployable policy when one of
/// them exceeds its intensity. `services` is what its tree reaches the world
/// by (its `deployable` is set from the spec).
msg::deployable_actor::behavior_type
deployable(msg::deployable_actor::stateful_pointer<deployable_state> self,
           msg::deployable_spec spec, tree_context services);

} // namespace pcloud::actors
