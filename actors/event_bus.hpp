#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "messages/interfaces.hpp"

namespace pcloud::actors {

struct event_bus_state {
  static inline const char* name = "pcloud.event_bus";
  uint64_t next_sequence = 1;
  std::vector<msg::event_listener_actor> subscribers;
  /// The most recent events, oldest first, for late subscribers.
  std::deque<msg::event> history;
  size_t history_limit = 1000;
};

/// Numbers every event, logs it, keeps recent history and hands it to every
/// subscriber in order.
msg::event_bus_actor::behavior_type
event_bus(msg::event_bus_actor::stateful_pointer<event_bus_state> self,
          size_t history_limit);

} // namespace pcloud::actors
