// Notification hooks, as Pacemaker's alert agents: every executable in a
// directory runs for each FAILED or RECOVERING event and when a deployable
// becomes ACTIVE, with the event in its environment (PCLOUD_*), one at a
// time in event order, each killed at its timeout. A hook that fails or hangs
// is logged and changes nothing else.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace pcloud::runtime {

struct hook_options {
  /// Executables here run in name order; files that are not executable
  /// (or start with '.') are skipped. Read anew for every event, so hooks
  /// can be added without restarting pcloudd. Only files (and a directory)
  /// owned by pcloudd's user and writable by nobody else run; the
  /// environment holds only PCLOUD_* and a fixed PATH.
  std::string directory;
  std::chrono::milliseconds timeout{30000};
  /// Events waiting beyond this are dropped (with a warning): a slow hook
  /// must not grow pcloudd without bound.
  size_t max_queued = 1000;
};

/// The hooks in `dir` that may run, in name order; what is skipped for
/// trust and why is logged once per file and reason (`warned` remembers).
std::vector<std::string> hooks_in(const std::string& dir,
                                  std::set<std::string>& warned);

/// Whether `ev` runs the hooks.
bool triggers_hooks(const msg::event& ev);

/// The listener to subscribe to the event bus. Hooks run on a thread of its
/// own; it ends with the actor (a running hook is killed).
msg::event_listener_actor spawn_hook_runner(caf::actor_system& sys,
                                            hook_options opts);

} // namespace pcloud::runtime
