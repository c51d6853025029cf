// The assembly's life cycle as a table (actors/assembly_machine.cpp): the
// state an operator sees and the events that change it. Where the assembly
// is within a state (waiting out the backoff, destroying the old domain,
// starting it, booting, shutting down) is its phase, kept by the actor.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "actors/machine.hpp"

namespace pcloud::actors {

enum class assembly_event : uint8_t {
  /// The deployable asked it to start.
  start,
  /// The agent of the booting domain said hello.
  hello,
  /// The VM failed, within the policy's intensity: the domain died, the agent
  /// link was lost, no hello within the boot timeout, the domain did not
  /// start, or a resource escalated.
  vm_failed,
  /// The VM failed more often than the policy allows: escalate.
  gave_up,
  /// The deployable restarts all its assemblies (restart-all).
  restart,
  /// The VM shut down as asked (stop).
  shut_down,
  /// The VM could not be shut down.
  stop_failed,
};

inline constexpr std::array<assembly_event, 7> all_assembly_events{
  assembly_event::start,      assembly_event::hello,
  assembly_event::vm_failed,  assembly_event::gave_up,
  assembly_event::restart,    assembly_event::shut_down,
  assembly_event::stop_failed};

std::string_view to_string(assembly_event x);

using assembly_row = machine::row<assembly_event>;

/// One row per transition an assembly makes.
extern const std::array<assembly_row, 7> assembly_table;

/// The row for `event` in state `from`; nothing if it is impossible.
inline std::optional<assembly_row> next(msg::state from, assembly_event event) {
  return machine::next(assembly_table, from, event);
}

} // namespace pcloud::actors
