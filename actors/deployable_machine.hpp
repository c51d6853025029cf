// The deployable's life cycle as a table (actors/deployable_machine.cpp): the
// state an operator sees and the events that change it. Whether the operator
// wants it running and whether a restart-all is under way are kept by the
// actor.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "actors/machine.hpp"

namespace pcloud::actors {

enum class deployable_event : uint8_t {
  /// The operator asked it to start.
  start,
  /// Every assembly and every resource is ACTIVE (again).
  all_active,
  /// Something is no longer ACTIVE.
  degraded,
  /// An assembly escalated; policy restart-all, within its limit.
  escalated,
  /// An assembly escalated; policy restart-all, limit reached.
  limit_reached,
  /// An assembly escalated; policy stop.
  policy_stop,
  /// Not wanted any more, and every assembly has stopped.
  all_stopped,
};

inline constexpr std::array<deployable_event, 7> all_deployable_events{
  deployable_event::start,         deployable_event::all_active,
  deployable_event::degraded,      deployable_event::escalated,
  deployable_event::limit_reached, deployable_event::policy_stop,
  deployable_event::all_stopped};

std::string_view to_string(deployable_event x);

using deployable_row = machine::row<deployable_event>;

/// One row per transition a deployable makes.
extern const std::array<deployable_row, 7> deployable_table;

/// The row for `event` in state `from`; nothing if it is impossible.
inline std::optional<deployable_row> next(msg::state from,
                                          deployable_event event) {
  return machine::next(deployable_table, from, event);
}

} // namespace pcloud::actors
