// Classes driven by operations that are programs: OCF resource agents, LSB
// init scripts and systemd units (through systemctl). One operation runs at a
// time per resource, each with a timeout; a recurring monitor watches the
// resource while it should run, and the first monitor is a probe.
//
// Parameters common to these classes: start_timeout_ms, stop_timeout_ms
// (default 20000 each). OCF passes every other parameter as OCF_RESKEY_*.
#pragma once

#include <deque>
#include <optional>

#include "guest/agent/managed_resource.hpp"
#include "guest/agent/process.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::guest {

class operation_resource : public managed_resource {
public:
  ~operation_resource() override;

  void probe() override;
  void start() override;
  void stop() override;
  void restart() override;
  void monitor() override;
  void report_again() override;
  bool idle() const override;

protected:
  enum class verdict { running, not_running, error };

  operation_resource(event_loop& loop, wire::resource_definition def,
                     reporter report);

  /// The program and environment of an operation (start, stop, monitor).
  virtual launch_spec command_for(const std::string& op,
                                  std::chrono::milliseconds timeout) const = 0;
  /// What a monitor's exit code means.
  virtual verdict judge_monitor(int rc) const = 0;
  /// "7 (not running)".
  virtual std::string describe_rc(int rc) const = 0;

  /// A class's own death signal, armed while the resource runs as wanted
  /// (after a start, or a monitor that found it running) and disarmed
  /// before pcloud stops it. Without one, the recurring monitor notices.
  virtual void watch_running() {}
  virtual void unwatch_running() {}
  /// Called by that signal: the resource stopped without being asked to.
  void lost(const std::string& cause);

private:
  /// probe is a monitor whose "not running" means stopped, not failed.
  void enqueue(const std::string& op);
  void run_next();
  void finish(std::optional<int> rc, const std::string& how);
  void schedule_monitor();
  void set(const std::string& condition, const std::string& cause);
  std::chrono::milliseconds timeout_of(const std::string& op) const;

  bool want_running_ = false;
  std::string condition_ = "stopped";
  std::string cause_ = "not probed yet";
  std::deque<std::string> pending_;
  std::string current_;
  child_process proc_;
  int exec_error_ = 0;
  bool timed_out_ = false;
  scoped_timer op_timer_;
  scoped_timer monitor_timer_;
  std::chrono::milliseconds start_timeout_{20000};
  std::chrono::milliseconds stop_timeout_{20000};
};

/// ocf: `type` is PROVIDER:AGENT (or ocf:PROVIDER:AGENT), run from
/// $OCF_ROOT/resource.d/PROVIDER/AGENT.
class ocf_resource : public operation_resource {
public:
  ocf_resource(event_loop& loop, wire::resource_definition def, reporter report,
               std::string ocf_root);
  static bool parse(const wire::resource_definition& def, std::string& error);

protected:
  launch_spec command_for(const std::string& op,
                          std::chrono::milliseconds timeout) const override;
  verdict judge_monitor(int rc) const override;
  std::string describe_rc(int rc) const override;

private:
  std::string ocf_root_;
  std::string provider_;
  std::string agent_;
};

/// lsb: `type` is a script in /etc/init.d, or an absolute path.
class lsb_resource : public operation_resource {
public:
  lsb_resource(event_loop& loop, wire::resource_definition def,
               reporter report);

protected:
  launch_spec command_for(const std::string& op,
                          std::chrono::milliseconds timeout) const override;
  verdict judge_monitor(int rc) const override;
  std::string describe_rc(int rc) const override;
};

/// systemd: `type` is a unit (".service" is implied without a suffix),
/// driven by systemctl start/stop and watched with `systemctl is-active`.
/// pcloud owns recovery, so the start gives the unit a runtime drop-in with
/// Restart=no; the unit's death is an event: inotify on its cgroup's
/// cgroup.events, whose "populated" drops to 0 when its last process exits.
class systemd_resource : public operation_resource {
public:
  systemd_resource(event_loop& loop, wire::resource_definition def,
                   reporter report);
  ~systemd_resource() override;

protected:
  launch_spec command_for(const std::string& op,
                          std::chrono::milliseconds timeout) const override;
  verdict judge_monitor(int rc) const override;
  std::string describe_rc(int rc) const override;
  void watch_running() override;
  void unwatch_running() override;

private:
  std::string unit_;
  std::string cgroup_events_;
  posix::unique_fd inotify_fd_;
};

} // namespace pcloud::guest
