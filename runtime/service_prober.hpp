// The service prober: checks from the host that a guest's service answers
// where its clients reach it (the guest's address on a libvirt network, or
// a user-mode forward on the host), so that ACTIVE means a client gets an
// answer. One thread with an epoll loop runs every check
// (guest/link/endpoint_check, which the agent uses for its own probes);
// each answers its listener once, within its timeout.
#pragma once

#include <chrono>
#include <cstddef>

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace pcloud::runtime {

struct service_prober_options {
  /// Checks in flight at once; one more is answered "busy" at once (a host
  /// runs at most a few per resource that is starting).
  size_t max_checks = 1024;
  /// Through a forward, how long a tcp connection must stay open to count
  /// (at most half the check's timeout).
  std::chrono::milliseconds forward_hold{200};
};

/// Spawns the prober; its thread ends when the actor does.
msg::service_prober_actor
spawn_service_prober(caf::actor_system& sys, service_prober_options opts = {});

} // namespace pcloud::runtime
