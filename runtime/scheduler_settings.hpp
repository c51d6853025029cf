// How pcloud's programs run CAF's scheduler, in one place.
#pragma once

namespace caf {
class actor_system_config;
} // namespace caf

namespace pcloud::runtime {

/// One worker per core (CAF would start at least four), and idle workers that
/// sleep 200 ms between polls instead of 10 ms: a supervisor is idle nearly
/// always, and work that arrives wakes a worker at once anyway. Measured with
/// 11,100 idle actors: idle CPU fell from ~1% to ~0.04% of a core, recovery
/// latency unchanged (tests/bench/escalation_bench).
void apply_scheduler_settings(caf::actor_system_config& cfg);

} // namespace pcloud::runtime
