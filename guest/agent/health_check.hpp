// One run of a resource's probe inside the guest: a TCP connect, an HTTP GET
// or a command, each against the guest's loopback and bounded by the
// probe's timeout. Runs on the agent's event loop and never blocks: the
// socket is non-blocking and watched, the command's exit is its pidfd. A
// check that has not finished at its timeout is abandoned (the command's
// process group is killed) and counts as a failure.
#pragma once

#include <functional>
#include <string>

#include "guest/agent/process.hpp"
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

  /// What an HTTP response means to `def`: ok, or why not. `response` is
  /// what the server sent up to its close (or the most we read).
  static bool judge_http(const wire::probe_definition& def,
                         const std::string& response, std::string& detail);

  /// Most bytes of an HTTP response read: enough for a status line, headers
  /// and a health page; a larger body is judged on its beginning.
  static constexpr size_t max_response = 64 * 1024;

private:
  void finish(bool ok, const std::string& detail);
  void start_connect();
  void on_socket(uint32_t events);
  void start_command();
  void on_command_exit();

  event_loop& loop_;
  wire::probe_definition def_;
  done_fn done_;
  posix::unique_fd socket_;
  bool connected_ = false;
  std::string request_;
  size_t sent_ = 0;
  std::string response_;
  child_process proc_;
  scoped_timer timeout_;
};

} // namespace pcloud::guest
