// A level's life cycle as a table: which event takes it from which states to
// which, and what the actor does on the way. Each actor asks its table for
// every state change it makes; a change the table does not list is a bug in
// the actor. Pure: no actors, no clock, no logging.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "messages/event.hpp"

namespace pcloud::actors::machine {

/// Every state, in the order `msg::state` declares them.
inline constexpr std::array<msg::state, 5> all_states{
  msg::state::stopped, msg::state::starting, msg::state::active,
  msg::state::recovering, msg::state::failed};

/// A set of states (the states a row leaves from).
class states {
public:
  constexpr states(std::initializer_list<msg::state> xs) {
    for (auto x : xs) {
      bits_ |= bit(x);
    }
  }

  /// All of them ("any" in a diagram).
  static constexpr states any() {
    return {msg::state::stopped, msg::state::starting, msg::state::active,
            msg::state::recovering, msg::state::failed};
  }

  constexpr bool has(msg::state x) const { return (bits_ & bit(x)) != 0; }

  constexpr bool operator==(states other) const { return bits_ == other.bits_; }

private:
  static constexpr uint8_t bit(msg::state x) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(x));
  }

  uint8_t bits_ = 0;
};

/// Short names for writing tables: `using namespace machine::names;`.
namespace names {
inline constexpr auto stopped = msg::state::stopped;
inline constexpr auto starting = msg::state::starting;
inline constexpr auto active = msg::state::active;
inline constexpr auto recovering = msg::state::recovering;
inline constexpr auto failed = msg::state::failed;
inline constexpr auto any = states::any();
} // namespace names

template <class Event>
struct row {
  states from;
  Event event;
  msg::state to;
  /// What the actor does, in the words its event's action says it ("starting
  /// VM"); empty when the actor only announces the new state.
  std::string_view action;
};

/// The row of `table` for `event` in state `from`; nothing when the table has
/// none, i.e. the transition is impossible.
template <class Event, size_t N>
std::optional<row<Event>> next(const std::array<row<Event>, N>& table,
                               msg::state from, Event event) {
  for (auto& r : table) {
    if (r.event == event && r.from.has(from)) {
      return r;
    }
  }
  return std::nullopt;
}

/// "STOPPED, FAILED --start--> STARTING": one line per row, as the diagram at
/// the top of the actor's file shows it.
template <class Event, size_t N>
std::string diagram(const std::array<row<Event>, N>& table) {
  std::string result;
  for (auto& r : table) {
    result += "  ";
    if (r.from == states::any()) {
      result += "any";
    } else {
      std::string_view sep;
      for (auto s : all_states) {
        if (r.from.has(s)) {
          result += sep;
          result += msg::to_string(s);
          sep = ", ";
        }
      }
    }
    result += " --";
    result += to_string(r.event);
    result += "--> ";
    result += msg::to_string(r.to);
    result += '\n';
  }
  return result;
}

} // namespace pcloud::actors::machine
