// What every actor of one deployable's supervision tree shares: where events
// go and how the outside world is reached.
#pragma once

#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/timestamp.hpp>

#include "messages/interfaces.hpp"

namespace pcloud::actors {

struct tree_context {
  std::string deployable;
  msg::event_bus_actor bus;
  msg::hypervisor_actor hypervisor;
  msg::guest_gateway_actor gateway;
  /// Checks that services answer where clients reach them. Without one
  /// (trees tested without a network) a resource is ACTIVE when its agent
  /// says it runs.
  msg::service_prober_actor prober;
  /// Where user-mode networking's forwards listen, as a client connects to
  /// it (a wildcard listen address is reached on the loopback).
  std::string forward_address = "127.0.0.1";
};

/// An event about `deployable/assembly/resource`, stamped with the wall clock.
inline msg::event make_event(const tree_context& ctx, std::string assembly,
                             std::string resource, msg::state state,
                             std::string reason, std::string action = {}) {
  msg::event ev;
  ev.time = caf::make_timestamp();
  ev.deployable = ctx.deployable;
  ev.assembly = std::move(assembly);
  ev.resource = std::move(resource);
  ev.state = state;
  ev.reason = std::move(reason);
  ev.action = std::move(action);
  return ev;
}

/// An error in words: the context text a runtime adapter attached, or CAF's
/// rendering when there is none.
std::string describe(caf::actor_system& sys, const caf::error& err);

} // namespace pcloud::actors
