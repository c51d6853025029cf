// The exec class: the agent runs a command line itself and holds its pidfd,
// so a death is reported the moment it happens. A process that is alive but
// stopped (SIGSTOP, a debugger) gives no event: the monitor reads its state
// every monitor interval and kills a stopped one.
//
// Parameters: user, directory, env.NAME=value, stop_timeout_ms (SIGTERM to
// the process group, then SIGKILL after this long; default 10000).
#pragma once

#include "guest/agent/managed_resource.hpp"
#include "guest/agent/process.hpp"

namespace pcloud::guest {

class exec_resource : public managed_resource {
public:
  exec_resource(event_loop& loop, wire::resource_definition def,
                reporter report, launch_spec spec);
  ~exec_resource() override;

  void probe() override;
  void start() override;
  void stop() override;
  void restart() override;
  void monitor() override;
  void report_again() override;
  void kill() override;
  bool idle() const override;

  /// Builds the launch spec from a definition, or says why it cannot.
  static bool parse(const wire::resource_definition& def, launch_spec& spec,
                    std::string& error);

private:
  enum class phase { stopped, starting, running, stopping, failed };

  void launch();
  void on_exec_result();
  void on_exit();
  void set(phase next, const std::string& condition, const std::string& cause);
  void schedule_check();
  void check_not_stopped();

  launch_spec spec_;
  child_process proc_;
  phase phase_ = phase::stopped;
  int exec_error_ = 0;
  bool start_after_stop_ = false;
  std::string condition_ = "stopped";
  std::string cause_ = "not started";
  std::chrono::milliseconds stop_timeout_{10000};
  scoped_timer kill_timer_;
  scoped_timer check_timer_;
  /// Why the monitor killed it, reported when it is gone.
  std::string killed_because_;
};

/// The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, ...), or 0.
char process_state(pid_t pid);

} // namespace pcloud::guest
