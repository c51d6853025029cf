// A resource with a probe: wraps the resource of its class and runs the
// probe (guest/agent/health_check.hpp) while the resource runs.
//
// Readiness: the class's "running" is held back until the probe first
// passes, and then reported as "ready in 850ms (status 200)", so the host
// reads ACTIVE only when the service answers. Liveness: once ready,
// `failures` consecutive failures mean the service is hung: the resource is
// killed (exec: SIGKILL at once, a hung process ignores SIGTERM; other
// classes: their stop) and reported failed with the probe's cause, and the
// host restarts it as any other failure. Failures count from the end of
// the initial delay, before readiness too, so a service that never answers
// fails rather than starting forever.
//
//   idle --running--> starting --pass--> ready --failures--> killing
//   killing --stopped/failed--> idle, reported failed ("hung: ...")
//   starting --failures--> killing --stopped/failed--> idle, reported
//     start_failed ("never ready: ..."): the host counts it as the result
//     of its (re)start
//   starting --failed by itself--> idle, reported start_failed ("exited
//     before it was ready: ...")
//   any other --stopped/failed by itself--> idle (reported as is)
//
// Before readiness a failed check is tried again after 10 ms, then 20, 40,
// ... up to the interval; failures still count once an interval.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "guest/agent/health_check.hpp"
#include "guest/agent/managed_resource.hpp"

namespace pcloud::guest {

class probed_resource : public managed_resource {
public:
  /// `make_inner` builds the class's resource with the reporter it is given.
  probed_resource(
    event_loop& loop, wire::resource_definition def, reporter report,
    /// Called when the probe's verdict changes: it passed after failing (or
    /// first), or it failed once more.
    probe_reporter probe_report,
    const std::function<std::unique_ptr<managed_resource>(reporter)>&
      make_inner);
  ~probed_resource() override;

  void probe() override;
  void start() override;
  void stop() override;
  void restart() override;
  void monitor() override;
  void report_again() override;
  void kill() override;
  bool idle() const override;

  bool built() const { return inner_ != nullptr; }

private:
  enum class phase { idle, starting, ready, killing };

  void on_inner(const std::string& condition, const std::string& cause);
  void begin_probing();
  void run_check();
  void on_check(bool ok, const std::string& detail);
  void halt_probing();
  void retry_soon();
  std::chrono::milliseconds interval() const {
    return std::chrono::milliseconds{def_.probe.interval_ms};
  }

  static constexpr std::chrono::milliseconds first_retry{10};

  probe_reporter probe_report_;
  std::unique_ptr<managed_resource> inner_;
  health_check check_;
  scoped_timer next_check_;
  phase phase_ = phase::idle;
  uint32_t failures_ = 0;
  /// Whether the host was told of a failure since the last pass.
  bool told_failing_ = false;
  bool told_once_ = false;
  std::chrono::steady_clock::time_point running_since_;
  /// Before readiness: a failed check counts from this time on.
  std::chrono::steady_clock::time_point counts_from_;
  /// Before readiness: the wait before the next check.
  std::chrono::milliseconds retry_{first_retry};
  std::string inner_cause_;
  std::string ready_cause_;
  std::string kill_cause_;
  /// Whether the resource killed for its probe had been ready.
  bool killed_ready_ = false;
};

} // namespace pcloud::guest
