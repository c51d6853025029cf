// Typed actor interfaces: how the parts of pcloud talk to each other. actors/
// reaches the hypervisor and the guests only through these, so tests plug in
// fakes and runtime/ plugs in libvirt and AMQP.
#pragma once

#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/type_ids.hpp"

namespace pcloud::msg {

// -- listeners ----------------------------------------------------------------

/// Receives lifecycle events of the domains it started.
using domain_listener_actor = caf::typed_actor<caf::reacts_to<domain_event>>;

/// Receives what an assembly's agent says, relayed by the guest gateway.
using guest_listener_actor
  = caf::typed_actor<caf::reacts_to<agent_hello>, caf::reacts_to<agent_gone>,
                     caf::reacts_to<agent_addresses>,
                     caf::reacts_to<resource_report>,
                     caf::reacts_to<probe_report>>;

/// Receives the results of the reach checks it asked for.
using reach_listener_actor = caf::typed_actor<caf::reacts_to<reach_result>>;

// -- services -----------------------------------------------------------------

/// Orders events and hands them to subscribers; keeps recent history.
using event_bus_actor = caf::typed_actor<
  caf::reacts_to<caf::publish_atom, event>,
  caf::reacts_to<caf::subscribe_atom, event_listener_actor>,
  caf::reacts_to<caf::unsubscribe_atom, event_listener_actor>,
  caf::replies_to<caf::get_atom>::with<std::vector<event>>>;

/// One per libvirt URI. Domains are named by their assembly; a start of an
/// assembly whose domain already runs adopts it (`domain_info::adopted`).
using hypervisor_actor = caf::typed_actor<
  caf::replies_to<start_atom, assembly_spec,
                  domain_listener_actor>::with<domain_info>,
  /// Force off, as `virDomainDestroy`. Answers once the domain is gone.
  caf::replies_to<destroy_atom, std::string>::with<caf::ok_atom>,
  /// Graceful shutdown, forced off after the timeout.
  caf::replies_to<shutdown_atom, std::string,
                  caf::timespan>::with<caf::ok_atom>,
  /// The host path of a running assembly's serial console (a pty).
  caf::replies_to<console_atom, std::string>::with<std::string>,
  /// Which of these host ports could be forwarded now (nothing else has them
  /// bound on the forward address): answers the free ones.
  caf::replies_to<port_atom,
                  std::vector<service_port>>::with<std::vector<service_port>>,
  /// The networks an assembly may name: user, none and libvirt's own.
  caf::replies_to<network_atom>::with<std::vector<std::string>>,
  /// A libvirt network's subnets ("10.213.5.0/24", "fd00:5::/64"); none
  /// when it has none.
  caf::replies_to<network_atom, std::string>::with<std::vector<std::string>>,
  /// The addresses libvirt's DHCP server leased to the running VM of an
  /// assembly (none yet: empty); not_found when its network hands out none.
  caf::replies_to<lease_atom, std::string>::with<std::vector<std::string>>>;

/// AMQP links to guest agents. `attach` makes the gateway talk to the agent of
/// one domain incarnation; on hello it configures the agent's resource set and
/// relays everything the agent says to the listener.
using guest_gateway_actor = caf::typed_actor<
  caf::reacts_to<attach_atom, domain_info, std::vector<resource_spec>,
                 guest_listener_actor>,
  caf::reacts_to<detach_atom, std::string>, caf::reacts_to<resource_command>>;

/// Checks from the host that guests' services answer (runtime/): one
/// `reach_result` to the listener per check, within the check's timeout.
using service_prober_actor
  = caf::typed_actor<caf::reacts_to<reach_check, reach_listener_actor>>;

/// Definitions on disk. Every write is durable when its reply arrives.
using store_actor = caf::typed_actor<
  caf::replies_to<caf::get_atom>::with<definitions>,
  caf::replies_to<caf::put_atom, assembly_spec>::with<caf::ok_atom>,
  caf::replies_to<caf::put_atom, deployable_definition>::with<caf::ok_atom>,
  /// Deletes an assembly's definition.
  caf::replies_to<caf::delete_atom, assembly_spec>::with<caf::ok_atom>,
  /// Deletes a deployable's definition.
  caf::replies_to<caf::delete_atom, deployable_definition>::with<caf::ok_atom>>;

/// JEOS images: built from recipes in conf/ or imported. Builds run off the
/// actor threads; a build answers when the image is usable.
using image_store_actor = caf::typed_actor<
  caf::replies_to<caf::get_atom>::with<std::vector<jeos_info>>,
  /// Builds (or finds up to date) the image of a recipe: distro, arch.
  caf::replies_to<create_atom, std::string, std::string>::with<jeos_info>,
  /// Registers an existing image file: name, path.
  caf::replies_to<import_atom, std::string, std::string>::with<jeos_info>,
  caf::replies_to<caf::delete_atom, std::string>::with<caf::ok_atom>>;

/// One open console: input for the guest, and close.
using console_session_actor
  = caf::typed_actor<caf::reacts_to<console_atom, std::string>,
                     caf::reacts_to<caf::close_atom>>;

/// Opens console sessions on a pty path; the session writes what the guest
/// says to the listener and ends when the console goes away.
using console_factory_actor = caf::typed_actor<
  caf::replies_to<caf::open_atom, std::string,
                  console_listener_actor>::with<console_session_actor>>;

/// What pcloudsh reaches over a CAF remote link. Every message carries the
/// caller's token and is refused without the right one.
using shell_service_actor = caf::typed_actor<
  caf::replies_to<shell_request>::with<shell_reply>,
  /// Token, listener: the listener receives every event from now on;
  /// the reply holds the recent history.
  caf::replies_to<caf::subscribe_atom, std::string,
                  event_listener_actor>::with<std::vector<event>>,
  /// Token, assembly, listener: attaches to the assembly's serial console;
  /// the reply is the session's number.
  caf::replies_to<console_atom, std::string, std::string,
                  console_listener_actor>::with<uint64_t>,
  /// Token, session, bytes typed.
  caf::reacts_to<console_atom, std::string, uint64_t, std::string>,
  /// Token, session: detach.
  caf::reacts_to<caf::close_atom, std::string, uint64_t>>;

// -- the supervision tree
// -------------------------------------------------------

/// What a resource tells its assembly.
using resource_parent_actor
  = caf::typed_actor<caf::reacts_to<escalate_atom, std::string, std::string>,
                     caf::reacts_to<caf::update_atom, resource_status>>;

/// What an assembly tells its deployable.
using assembly_parent_actor
  = caf::typed_actor<caf::reacts_to<escalate_atom, std::string, std::string>,
                     caf::reacts_to<caf::update_atom, assembly_status>>;

using resource_actor = reach_listener_actor::extend<
  /// The agent is up: start the resource (a no-op if it already runs).
  caf::reacts_to<start_atom>, caf::reacts_to<stop_atom>,
  /// The agent of an adopted VM is up: the resource kept running while
  /// pcloudd was away; confirm it (a start the agent answers with its
  /// state) and say that it was adopted, not started.
  caf::reacts_to<adopt_atom>,
  /// The VM runs without an agent (adopted: true when it ran before this
  /// pcloudd): the service is watched from the host alone, by its port,
  /// which must answer within the timespan (the assembly's boot timeout:
  /// the guest boots meanwhile).
  caf::reacts_to<watch_atom, bool, caf::timespan>,
  /// The VM is being recovered: drop any own recovery and wait for start.
  caf::reacts_to<vm_lost_atom, std::string>, caf::reacts_to<resource_report>,
  caf::reacts_to<probe_report>,
  /// Where the host reaches the assembly's services now.
  caf::reacts_to<service_route>,
  /// Timer: a backoff of the given generation has elapsed.
  caf::reacts_to<backoff_atom, uint64_t>,
  /// Timer: check again whether the service answers (generation).
  caf::reacts_to<reach_atom, uint64_t>>;

using assembly_actor
  = guest_listener_actor::extend_with<domain_listener_actor,
                                      resource_parent_actor>::
    extend<caf::reacts_to<start_atom>, caf::reacts_to<stop_atom>,
           /// Destroy and start the VM without counting a failure (the
           /// deployable's restart-all); resets the intensity window.
           caf::reacts_to<restart_atom, std::string>,
           caf::replies_to<caf::get_atom>::with<assembly_status>,
           caf::reacts_to<backoff_atom, uint64_t>,
           caf::reacts_to<boot_timeout_atom, uint64_t>,
           /// Timer: ask the DHCP lease again (generation).
           caf::reacts_to<lease_atom, uint64_t>>;

using deployable_actor = assembly_parent_actor::extend<
  caf::reacts_to<start_atom>, caf::reacts_to<stop_atom>,
  caf::replies_to<caf::get_atom>::with<deployable_status>>;

} // namespace pcloud::msg
