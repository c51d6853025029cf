// The service manager's notification socket (sd_notify(3)): how pcloudd,
// under a unit of Type=notify, says that it is ready, what it is doing
// (STATUS=), that it still makes progress (WATCHDOG=1) and that it stops.
// Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.
#pragma once

#include <chrono>
#include <string>

namespace pcloud::runtime {

class systemd_notify {
public:
  /// Whether a service manager listens ($NOTIFY_SOCKET is set).
  static bool active();

  /// The interval at which the manager wants WATCHDOG=1 (WatchdogSec=);
  /// zero when it wants none.
  static std::chrono::microseconds watchdog_interval();

  /// Sends `state` ("READY=1\nSTATUS=..."); false when it could not.
  static bool send(const std::string& state);
};

} // namespace pcloud::runtime
