// One run of a resource's probe inside the guest: a TCP connect or an HTTP
// GET against the guest's loopback (guest/link/endpoint_check), or a
// command, each bounded by the probe's timeout. Runs on the agent's event
// loop and never blocks: the command's exit is its pidfd. A check that has
// not finished at its timeout is abandoned (the command's process group is
// killed) and counts as a failure.
#pragma once

#include <functional>
#include <string>

#include "guest/agent/process.hpp"
#include "guest/link/endpoint_check.hpp"
#include "guest/link/event_loop.hpp"
#include "guest/link/wire.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::guest {

class health_check {
public:
  /// ok, and in words what was seen: "status 200", "connection refused".
  using done_fn = std::function<void(bool ok, const std::string& detail)>;

  health_check(event_loop& loop, wire::probe_definition def);
  ~health_check();
  health_check(const health_check&) = delete;
  health_check& operator=(const health_check&) = delete;

  /// Starts one check; `done` is called once, from the loop, unless
  /// cancel() comes first. A check already running is cancelled.
  void run(done_fn done);
  void cancel();
  bool running() const { return static_cast<bool>(done_); }

  /// "http 127.0.0.1:80/healthz", "tcp 127.0.0.1:5432", "command 'pg_isready'"
  static std::string describe(const wire::probe_definition& def);

  /// What a tcp or http probe checks, on the guest's loopback.
  static endpoint_target target_of(const wire::probe_definition& def);

private:
  void finish(bool ok, const std::string& detail);
  void start_command();
  void on_command_exit();

  event_loop& loop_;
  wire::probe_definition def_;
  done_fn done_;
  endpoint_check endpoint_;
  child_process proc_;
  scoped_timer timeout_;
  /// A command that could not start, told from the loop a moment later.
  scoped_timer failing_;
};

} // namespace pcloud::guest
