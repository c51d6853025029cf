// One resource the agent manages, whatever its class. The agent drives it
// with start/stop/restart/monitor and hears back through `report` whenever
// its condition changes (or when asked for it).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "guest/agent/process.hpp"
#include "guest/link/event_loop.hpp"
#include "guest/link/wire.hpp"

namespace pcloud::guest {

class managed_resource {
public:
  /// condition: running, stopped, failed or start_failed (wire protocol).
  using reporter
    = std::function<void(const std::string& condition, const std::string&)>;
  using probe_reporter = std::function<void(const wire::probe_result&)>;

  virtual ~managed_resource() = default;

  /// Finds out whether it already runs (the first monitor is a probe) and
  /// reports running or stopped.
  virtual void probe() = 0;
  /// A no-op that reports running again when it already runs.
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual void restart() = 0;
  /// Runs the monitor now (exec: checks the process) and reports.
  virtual void monitor() = 0;
  /// Ends it now, because it is hung (its probe failed): a graceful stop
  /// would wait on a process that no longer answers. Reports stopped (or
  /// failed) once it is gone. Classes without a faster way stop it.
  virtual void kill() { stop(); }
  /// Reports the last known condition again (after a reconnect).
  virtual void report_again() = 0;
  /// Stopped and nothing in flight: safe to destroy.
  virtual bool idle() const = 0;

  const wire::resource_definition& definition() const { return def_; }

protected:
  managed_resource(event_loop& loop, wire::resource_definition def,
                   reporter report)
      : loop_(loop), def_(std::move(def)), report_(std::move(report)) {
    // nop
  }

  /// Stops watching `proc` and kills its process group at once.
  void kill_child(child_process& proc);

  event_loop& loop_;
  wire::resource_definition def_;
  reporter report_;
};

/// Builds the resource of the class its definition names, wrapped in its
/// probe when it has one; on a definition that cannot work (an unparsable
/// command line, a bad probe) `error` says why.
std::unique_ptr<managed_resource>
make_resource(event_loop& loop, wire::resource_definition def,
              managed_resource::reporter report,
              managed_resource::probe_reporter probe_report, std::string& error,
              const std::string& ocf_root);

} // namespace pcloud::guest
