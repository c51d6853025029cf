// The one type-ID block of pcloud. Every type that crosses an actor boundary
// is listed here; `add_message_types(cfg)` registers them all, on both sides of
// a remote link, under the same names.
#pragma once

#include <vector>

#include <caf/type_id.hpp>

#include "messages/console.hpp"
#include "messages/definitions.hpp"
#include "messages/event.hpp"
#include "messages/guest.hpp"
#include "messages/hypervisor.hpp"
#include "messages/images.hpp"
#include "messages/reach.hpp"
#include "messages/shell.hpp"
#include "messages/status.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

// clang-format off
CAF_BEGIN_TYPE_ID_BLOCK(pcloud, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::escalation_policy))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::deployable_policy))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::service_port))
  CAF_ADD_TYPE_ID(pcloud, (std::vector<pcloud::msg::service_port>))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::probe_spec))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::resource_spec))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::assembly_spec))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::deployable_spec))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::agent_hello))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::agent_gone))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::agent_addresses))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::resource_condition))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::resource_report))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::probe_report))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::resource_operation))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::resource_command))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::domain_info))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::domain_event_kind))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::domain_event))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::state))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::event))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::resource_status))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::assembly_status))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::deployable_status))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::deployable_definition))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::definitions))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::shell_request))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::shell_reply))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::jeos_info))
  CAF_ADD_TYPE_ID(pcloud, (std::vector<pcloud::msg::jeos_info>))
  CAF_ADD_TYPE_ID(pcloud, (std::vector<pcloud::msg::event>))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::event_listener_actor))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::console_listener_actor))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::service_route))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::reach_check))
  CAF_ADD_TYPE_ID(pcloud, (pcloud::msg::reach_result))

  // Atoms: at most 10 characters on CAF 0.17.
  CAF_ADD_ATOM(pcloud, pcloud::msg, start_atom, "start")
  CAF_ADD_ATOM(pcloud, pcloud::msg, stop_atom, "stop")
  CAF_ADD_ATOM(pcloud, pcloud::msg, restart_atom, "restart")
  CAF_ADD_ATOM(pcloud, pcloud::msg, destroy_atom, "destroy")
  CAF_ADD_ATOM(pcloud, pcloud::msg, shutdown_atom, "shutdown")
  CAF_ADD_ATOM(pcloud, pcloud::msg, escalate_atom, "escalate")
  CAF_ADD_ATOM(pcloud, pcloud::msg, attach_atom, "attach")
  CAF_ADD_ATOM(pcloud, pcloud::msg, detach_atom, "detach")
  CAF_ADD_ATOM(pcloud, pcloud::msg, vm_lost_atom, "vm_lost")
  CAF_ADD_ATOM(pcloud, pcloud::msg, backoff_atom, "backoff")
  CAF_ADD_ATOM(pcloud, pcloud::msg, boot_timeout_atom, "boot_tmo")
  CAF_ADD_ATOM(pcloud, pcloud::msg, create_atom, "create")
  CAF_ADD_ATOM(pcloud, pcloud::msg, import_atom, "import")
  CAF_ADD_ATOM(pcloud, pcloud::msg, port_atom, "port")
  CAF_ADD_ATOM(pcloud, pcloud::msg, network_atom, "network")
  CAF_ADD_ATOM(pcloud, pcloud::msg, reach_atom, "reach")
  CAF_ADD_ATOM(pcloud, pcloud::msg, lease_atom, "lease")
  CAF_ADD_ATOM(pcloud, pcloud::msg, ready_atom, "ready")
  CAF_ADD_ATOM(pcloud, pcloud::msg, adopt_atom, "adopt")
  CAF_ADD_ATOM(pcloud, pcloud::msg, watch_atom, "watch")
  CAF_ADD_ATOM(pcloud, pcloud::msg, watchdog_atom, "watchdog")

CAF_END_TYPE_ID_BLOCK(pcloud)
// clang-format on

namespace pcloud::msg {

/// Registers every pcloud message type with `cfg`.
void add_message_types(caf::actor_system_config& cfg);

} // namespace pcloud::msg
