// One check that a TCP service answers at an address: a connect, or an HTTP
// GET judged by its status and body. The agent runs it against the guest's
// loopback (a resource's tcp and http probes); pcloudd runs it against the
// guest's address or forward, to tell when a client can reach a service.
// Runs on an event_loop and never blocks: the socket is non-blocking and
// watched, and a check that has not finished at its timeout fails.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "guest/link/event_loop.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::guest {

struct endpoint_target {
  /// An IPv4 or IPv6 literal.
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  /// A GET of `path` must answer a status within [status_min, status_max]
  /// and, if `body` is set, contain it; otherwise a connect is enough.
  bool http = false;
  std::string path = "/";
  uint32_t status_min = 200;
  uint32_t status_max = 399;
  std::string body;
  std::chrono::milliseconds timeout{500};
  /// How long a connection must stay open, once made, for a tcp check to
  /// pass (unless the server speaks first). Through QEMU's user-mode forward
  /// a connect always succeeds and is closed at once when nothing listens in
  /// the guest, so there a connect alone proves nothing. Below `timeout`.
  std::chrono::milliseconds hold{0};
};

class endpoint_check {
public:
  /// ok, and in words what was seen: "status 200", "connection refused".
  using done_fn = std::function<void(bool ok, const std::string& detail)>;

  explicit endpoint_check(event_loop& loop);
  ~endpoint_check();
  endpoint_check(const endpoint_check&) = delete;
  endpoint_check& operator=(const endpoint_check&) = delete;

  /// Starts one check; `done` is called once, from the loop, unless cancel()
  /// comes first. A check already running is cancelled.
  void run(endpoint_target target, done_fn done);
  void cancel();
  bool running() const { return static_cast<bool>(done_); }

  /// "http 127.0.0.1:80/healthz", "tcp [fd00::5]:5432"
  static std::string describe(const endpoint_target& target);

  /// What an HTTP response means to `target`: ok, or why not. `response` is
  /// what the server sent up to its close (or the most we read).
  static bool judge_http(const endpoint_target& target,
                         const std::string& response, std::string& detail);

  /// Most bytes of an HTTP response read: enough for a status line, headers
  /// and a health page; a larger body is judged on its beginning.
  static constexpr size_t max_response = 64 * 1024;

private:
  void finish(bool ok, const std::string& detail);
  void fail_soon(const std::string& why);
  void on_socket(uint32_t events);
  void on_connected();
  void on_held_readable();
  void send_request();
  void read_response();

  event_loop& loop_;
  endpoint_target target_;
  done_fn done_;
  posix::unique_fd socket_;
  bool connected_ = false;
  std::string request_;
  size_t sent_ = 0;
  std::string response_;
  scoped_timer timeout_;
  scoped_timer hold_;
  /// A failure known in run() itself, told from the loop a moment later.
  scoped_timer failing_;
};

} // namespace pcloud::guest
