// libvirt's default event loop on a thread of its own. libvirt delivers
// lifecycle events and keepalives only while someone runs this loop, and it
// must be registered before the first connection is opened (else opening
// qemu:///embed fails and events silently never arrive).
#pragma once

#include <atomic>
#include <thread>

namespace pcloud::runtime::virt {

class event_loop {
public:
  /// Registers the loop and starts its thread on first use; process-wide,
  /// because libvirt's event implementation is.
  static event_loop& instance();

  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;
  ~event_loop();

private:
  event_loop();
  void run();

  std::atomic<bool> stopping_{false};
  int wake_timer_ = -1;
  std::thread thread_;
};

} // namespace pcloud::runtime::virt
