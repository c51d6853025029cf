// Restart intensity and backoff of one supervised thing, on the actor clock.
// Pure bookkeeping: the actors decide what a decision means.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>

#include "messages/definitions.hpp"

namespace pcloud::actors {

class restart_tracker {
public:
  using time_point = caf::actor_clock::time_point;

  struct decision {
    /// More than `max_failures` failures within the window: stop restarting
    /// at this level and escalate.
    bool escalate = false;
    /// How long to wait before the restart (when not escalating).
    caf::timespan delay{0};
    /// Failures within the window, this one included.
    uint32_t failures = 0;
  };

  explicit restart_tracker(msg::escalation_policy policy
                           = msg::no_escalation_policy());

  /// Counts a failure seen at `now` and decides what to do about it. A failure
  /// that finds every earlier one outside the window counts as 1.
  decision record_failure(time_point now);

  /// Failures within the window as of `now`.
  uint32_t failures_in_window(time_point now) const;

  /// Forgets all failures and the backoff: a fresh start ordered from above.
  void reset();

  const msg::escalation_policy& policy() const { return policy_; }

private:
  bool in_window(time_point failure, time_point now) const;
  caf::timespan next_delay(time_point now);

  msg::escalation_policy policy_;
  /// Failures within the window, oldest first. Holds at most
  /// `max_failures + 1` entries (or none while nothing failed): one per
  /// supervised thing, so it must stay small.
  std::vector<time_point> failures_;
  std::optional<time_point> last_failure_;
  /// Restarts since the backoff was last reset.
  uint32_t consecutive_ = 0;
};

/// "restarting" or "restarting in 2s": the action an event reports.
std::string restart_action(const std::string& verb, caf::timespan delay);

/// Why a level escalates, e.g. "resource httpd failed 6 times in 60s
/// (killed by signal 9)".
std::string exceeded_reason(const std::string& what, uint32_t failures,
                            const msg::escalation_policy& policy,
                            const std::string& last_cause);

} // namespace pcloud::actors
