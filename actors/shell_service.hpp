// The shell service: what pcloudsh talks to. It holds the operator's
// definitions (persisted through the store before any reply says "done"),
// runs the commands of pcloudsh, starts and stops deployable actors, and
// answers status from them. Published on a CAF remote port, so it checks the
// caller's token on every message, in constant time.
#pragma once

#include <map>
#include <random>
#include <string>
#include <vector>

#include "actors/deployable.hpp"
#include "messages/interfaces.hpp"

namespace pcloud::actors {

/// How assemblies reach the network, as the hypervisor sets it up: the
/// service allocates forwarded host ports and shows where services answer.
struct network_settings {
  /// The network of assemblies that name none ("user" or a libvirt network).
  std::string default_network = "user";
  /// Where user-mode networking's forwards listen.
  std::string forward_address = "127.0.0.1";
  /// Host ports are allocated from this range: FIRST + the guest port when
  /// that is free (http 80 -> 20080), else the next free one.
  uint16_t first_port = 20000;
  uint16_t last_port = 29999;
  /// The port of pcloudd's agent listener (--agent-listen); 0 when it has
  /// none, and then no assembly can use the TCP transport.
  uint16_t agent_port = 0;
};

struct shell_services {
  msg::store_actor store;
  msg::image_store_actor images;
  msg::event_bus_actor bus;
  msg::hypervisor_actor hypervisor;
  msg::guest_gateway_actor gateway;
  msg::console_factory_actor consoles;
  network_settings network;
};

struct shell_service_state {
  static inline const char* name = "pcloud.shell_service";
  std::string token;
  shell_services services;
  std::vector<msg::resource_template> templates;
  std::map<std::string, msg::assembly_spec> assemblies;
  std::map<std::string, msg::deployable_definition> deployables;
  /// Deployable actors, from deployable_start until the next start replaces
  /// them (a stopped deployable keeps its actor for status).
  std::map<std::string, msg::deployable_actor> running;
  /// Makes UUIDs; seeded by the caller (actors/ reads no devices).
  std::mt19937_64 random;
  /// Open console sessions by number.
  std::map<uint64_t, msg::console_session_actor> consoles;
  uint64_t next_console = 1;
};

/// `loaded`: the store's definitions; deployables marked running are
/// started at once (their VMs are adopted where they still run). `seed`
/// seeds the UUIDs of new assemblies.
msg::shell_service_actor::behavior_type shell_service(
  msg::shell_service_actor::stateful_pointer<shell_service_state> self,
  std::string token, shell_services services,
  std::vector<msg::resource_template> templates, msg::definitions loaded,
  uint64_t seed);

/// Compares without an early exit, so the time taken does not tell how much
/// of a guessed token was right.
bool tokens_equal(const std::string& x, const std::string& y);

/// Whether `x` can name an assembly, deployable, resource or JEOS (what
/// conf/schema/definitions.rng accepts: it also becomes a file name).
bool valid_name(const std::string& x);

} // namespace pcloud::actors
