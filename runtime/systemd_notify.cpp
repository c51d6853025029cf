#include "runtime/systemd_notify.hpp"

#include <cstdlib>

#include <systemd/sd-daemon.h>

namespace pcloud::runtime {

bool systemd_notify::active() {
  auto* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

std::chrono::microseconds systemd_notify::watchdog_interval() {
  uint64_t usec = 0;
  // Checks WATCHDOG_PID against this process: a child never pings for it.
  if (sd_watchdog_enabled(0, &usec) <= 0) {
    return std::chrono::microseconds{0};
  }
  return std::chrono::microseconds{usec};
}

bool systemd_notify::send(const std::string& state) {
  return active() && sd_notify(0, state.c_str()) > 0;
}

} // namespace pcloud::runtime
