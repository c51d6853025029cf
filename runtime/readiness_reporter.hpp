// Tells the service manager how pcloudd is (runtime/systemd_notify): READY
// once the VMs of the deployables that were running are adopted, a STATUS
// line whenever an assembly's state changes, and WATCHDOG pings from an
// actor timer, so that they stop when the actor system stops making
// progress and systemd restarts the wedged pcloudd (which adopts the VMs).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>

#include "messages/interfaces.hpp"

namespace pcloud::runtime {

struct readiness_options {
  /// "DEPLOYABLE/ASSEMBLY" of every assembly whose VM a start adopts (the
  /// deployables the store marks running): READY waits until each is out
  /// of STARTING (back, recovering or failed).
  std::vector<std::string> adopting;
  /// READY at the latest after this, saying what is still adopting.
  caf::timespan adopt_deadline{std::chrono::minutes(2)};
  /// The manager's watchdog interval (WatchdogSec=); zero: no pings.
  caf::timespan watchdog{0};
  /// Sends one notification ("READY=1\nSTATUS=...").
  std::function<void(const std::string&)> notify;
};

using readiness_reporter_actor = msg::event_listener_actor::extend<
  /// pcloudd takes shell connections now: READY may follow.
  caf::reacts_to<msg::start_atom>,
  /// Timer: the adoption deadline has passed.
  caf::reacts_to<msg::ready_atom>,
  /// Timer: ping the watchdog.
  caf::reacts_to<msg::watchdog_atom>>;

struct readiness_reporter_state {
  static inline const char* name = "pcloud.readiness_reporter";
  readiness_options opts;
  std::set<std::string> adopting;
  /// The latest state of every assembly that is not stopped, by
  /// "DEPLOYABLE/ASSEMBLY".
  std::map<std::string, msg::state> assemblies;
  /// pcloudd takes shell connections (start_atom came).
  bool open = false;
  bool ready = false;
  std::string status;
};

/// The caller subscribes it to the event bus (before anything publishes
/// what it must see: a subscription sent from its own start could come
/// after the trees' first events).
readiness_reporter_actor::behavior_type readiness_reporter(
  readiness_reporter_actor::stateful_pointer<readiness_reporter_state> self,
  readiness_options opts);

/// The STATUS= text for these assembly states: "3 assemblies: 2 active,
/// 1 recovering".
std::string describe_assemblies(const std::map<std::string, msg::state>& xs);

} // namespace pcloud::runtime
