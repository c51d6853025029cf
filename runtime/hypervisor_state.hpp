// The hypervisor actor's state and its local messages, internal to the two
// files that make up the actor: hypervisor.cpp (its requests and behaviour)
// and hypervisor_events.cpp (what it hears from libvirt and qemu, and the
// reconnect). Nothing else includes this.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "messages/interfaces.hpp"
#include "runtime/hypervisor.hpp"
#include "runtime/pid_watcher.hpp"
#include "runtime/virt/connection.hpp"

namespace pcloud::runtime::detail {

/// libvirt reported a lifecycle event (from the event loop thread).
struct lifecycle_note {
  virt::lifecycle_event ev;
};

/// An incarnation's qemu process exited (from the pid watcher thread).
struct qemu_exit_note {
  std::string assembly;
  uint64_t incarnation;
  std::string how;
};

/// A graceful shutdown ran out of time.
struct shutdown_deadline {
  std::string assembly;
  uint64_t incarnation;
};

/// libvirt closed the connection under us (libvirtd restarted or gone).
struct connection_lost_note {
  std::string why;
};

/// Time to try reconnecting.
struct reconnect_tick {};

/// Time to cap the console logs of the VMs that run.
struct console_log_tick {};

} // namespace pcloud::runtime::detail

// Local-only messages: they never cross a process boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pcloud::runtime::detail::lifecycle_note)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pcloud::runtime::detail::qemu_exit_note)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pcloud::runtime::detail::shutdown_deadline)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pcloud::runtime::detail::connection_lost_note)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pcloud::runtime::detail::reconnect_tick)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pcloud::runtime::detail::console_log_tick)

namespace pcloud::runtime::detail {

using hypervisor_impl = msg::hypervisor_actor::extend<
  caf::reacts_to<lifecycle_note>, caf::reacts_to<qemu_exit_note>,
  caf::reacts_to<shutdown_deadline>, caf::reacts_to<connection_lost_note>,
  caf::reacts_to<reconnect_tick>, caf::reacts_to<console_log_tick>>;

/// What the hypervisor knows of one assembly's domain.
struct tracked {
  msg::domain_listener_actor listener;
  uint64_t incarnation = 0;
  std::string domain_uuid;
  pid_t qemu_pid = 0;
  /// pcloud destroyed or shut it down: its death is no failure.
  bool expecting_death = false;
  /// A death of this incarnation was reported already.
  bool death_reported = false;
  std::optional<caf::typed_response_promise<caf::ok_atom>> shutdown;
};

struct hypervisor_state {
  static inline const char* name = "pcloud.hypervisor";

  ~hypervisor_state() {
    // Frees the embed root for the next process at once.
    if (conn) {
      conn->close();
    }
  }

  hypervisor_options opts;
  std::shared_ptr<virt::connection> conn;
  /// False while libvirt is unreachable. Requests wait meanwhile (the
  /// requesters' own timeouts bound the wait) and run after the reconnect.
  bool connected = true;
  std::vector<std::function<void()>> deferred;
  caf::timespan reconnect_delay{0};
  std::unique_ptr<pid_watcher> watcher;
  std::map<std::string, tracked> assemblies;
  /// Domain UUID (of any incarnation) -> assembly.
  std::map<std::string, std::string> by_uuid;
};

using self_ptr = hypervisor_impl::stateful_pointer<hypervisor_state>;

// In hypervisor_events.cpp:

/// Tells the listener of `assembly` about its domain; a death only once per
/// incarnation (the first signal wins), which also answers a pending
/// graceful shutdown.
void report(self_ptr self, const std::string& assembly, tracked& t,
            msg::domain_event_kind kind, const std::string& reason);

/// Watches the qemu process of domain `name` (if this host can see its pid):
/// its exit becomes a qemu_exit_note.
void watch_qemu(self_ptr self, const std::string& assembly, tracked& t,
                const std::string& name);

/// Runs `f` now, or after the reconnect while libvirt is unreachable.
void when_connected(self_ptr self, std::function<void()> f);

/// Subscribes to the connection's lifecycle events and its closing.
void register_callbacks(self_ptr self);

/// Reopens the connection (backing off while it fails), then reconciles and
/// runs the requests that waited.
void try_reconnect(self_ptr self);

} // namespace pcloud::runtime::detail
