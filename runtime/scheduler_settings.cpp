#include "runtime/scheduler_settings.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include <caf/actor_system_config.hpp>

namespace pcloud::runtime {

void apply_scheduler_settings(caf::actor_system_config& cfg) {
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", static_cast<size_t>(cores));
  cfg.set("work-stealing.relaxed-sleep-duration",
          caf::timespan{std::chrono::milliseconds(200)});
}

} // namespace pcloud::runtime
