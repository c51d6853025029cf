// The live event stream in pcloudsh: a listener actor that pcloudd's bus
// sends events to, and the queue that hands them to the thread printing
// them (a pipe wakes that thread's poll).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::shell {

/// Events from the listener actor, handed to the thread that prints them.
class event_queue {
public:
  /// Opens the wake pipe; false when it cannot.
  bool open();

  /// From the listener actor.
  void push(msg::event ev);

  /// From the listener actor: pcloudd went away.
  void gone();

  /// Events not shown yet, in sequence order (the history and the live
  /// stream may overlap); drains the wake pipe.
  std::vector<msg::event> take();

  bool daemon_gone();

  /// Readable when there is something to take.
  int wake_fd() const noexcept { return wake_.read.get(); }

private:
  void wake(char c);

  std::mutex mtx_;
  std::deque<msg::event> items_;
  posix::fd_pair wake_;
  bool daemon_gone_ = false;
  uint64_t shown_ = 0;
};

/// A listener that queues every event; it watches `service` so that the
/// queue hears when pcloudd goes away.
msg::event_listener_actor spawn_listener(caf::actor_system& sys,
                                         std::shared_ptr<event_queue> q,
                                         const msg::shell_service_actor& svc);

/// One event as a line: text for people, or JSON (with "replayed": whether
/// it comes from the history rather than the live stream).
std::string event_line(const msg::event& ev, bool json, bool replayed = false);

/// Where `events` turns from the history to the live stream (text only).
inline constexpr const char* live_marker = "-- live from here (Ctrl-C ends) --";

} // namespace pcloud::shell
