#include "actors/restart_tracker.hpp"

#include <algorithm>
#include <limits>

namespace pcloud::actors {

restart_tracker::restart_tracker(msg::escalation_policy policy)
    : policy_(policy) {
  // nop
}

bool restart_tracker::in_window(time_point failure, time_point now) const {
  // A zero window keeps every failure: the limit then counts for ever.
  return policy_.window.count() == 0 || now - failure < policy_.window;
}

restart_tracker::decision restart_tracker::record_failure(time_point now) {
  failures_.erase(
    std::remove_if(failures_.begin(), failures_.end(),
                   [&](time_point t) { return !in_window(t, now); }),
    failures_.end());
  failures_.push_back(now);
  decision result;
  result.failures = static_cast<uint32_t>(failures_.size());
  // Only the newest max_failures + 1 decide anything: drop older ones, so a
  // crash loop without escalation (max_failures 0) cannot grow this
  // beyond what status shows.
  size_t keep = policy_.max_failures > 0 ? policy_.max_failures + 1 : 64;
  if (failures_.size() > keep) {
    failures_.erase(failures_.begin(),
                    failures_.end() - static_cast<std::ptrdiff_t>(keep));
  }
  result.escalate
    = policy_.max_failures > 0 && result.failures > policy_.max_failures;
  result.delay = next_delay(now);
  last_failure_ = now;
  return result;
}

caf::timespan restart_tracker::next_delay(time_point now) {
  if (last_failure_ && policy_.backoff_reset.count() > 0
      && now - *last_failure_ >= policy_.backoff_reset) {
    consecutive_ = 0;
  }
  auto step = consecutive_++;
  if (step == 0 || policy_.backoff_initial.count() == 0) {
    return caf::timespan{0};
  }
  if (policy_.max_failures > 0) {
    // Within the allowed failures every restart waits the same short
    // delay: a service that fails again must not be down longer for it.
    // Past the limit the level escalates instead.
    return policy_.backoff_max.count() > 0
             ? std::min(policy_.backoff_initial, policy_.backoff_max)
             : policy_.backoff_initial;
  }
  // Never escalating: a crash loop backs off, doubling.
  // initial * 2^(step - 1), without overflowing on long crash loops.
  auto delay = policy_.backoff_initial;
  for (uint32_t i = 1; i < step; ++i) {
    if (policy_.backoff_max.count() > 0 && delay >= policy_.backoff_max) {
      break;
    }
    if (delay.count() > std::numeric_limits<caf::timespan::rep>::max() / 2) {
      break;
    }
    delay *= 2;
  }
  if (policy_.backoff_max.count() > 0) {
    delay = std::min(delay, policy_.backoff_max);
  }
  return delay;
}

uint32_t restart_tracker::failures_in_window(time_point now) const {
  return static_cast<uint32_t>(
    std::count_if(failures_.begin(), failures_.end(),
                  [&](time_point t) { return in_window(t, now); }));
}

void restart_tracker::reset() {
  failures_.clear();
  failures_.shrink_to_fit();
  last_failure_.reset();
  consecutive_ = 0;
}

std::string restart_action(const std::string& verb, caf::timespan delay) {
  if (delay.count() == 0) {
    return verb;
  }
  return verb + " in " + msg::format_duration(delay);
}

std::string exceeded_reason(const std::string& what, uint32_t failures,
                            const msg::escalation_policy& policy,
                            const std::string& last_cause) {
  return what + " failed " + std::to_string(failures) + " times in "
         + msg::format_duration(policy.window) + " (" + last_cause + ")";
}

} // namespace pcloud::actors
