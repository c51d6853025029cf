// The shell service's model of the operator's definitions, and everything
// about it that needs no actor: name and value checks, lookups with the
// errors an operator reads, who holds which host port, where a service
// answers, the spec a deployable actor runs. Plain functions over plain data,
// tested without an actor system (tests/actors/shell_catalog_test.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "messages/definitions.hpp"
#include "messages/error.hpp"
#include "messages/names.hpp"
#include "messages/reach.hpp"
#include "messages/shell.hpp"
#include "messages/status.hpp"

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

/// The definitions the shell service holds, as the operator made them.
struct catalog {
  std::vector<msg::resource_template> templates;
  std::map<std::string, msg::assembly_spec> assemblies;
  std::map<std::string, msg::deployable_definition> deployables;
  network_settings network;
};

// -- checks ----------------------------------------------------------------

/// Whether `x` can name an assembly, deployable, resource or JEOS (what
/// conf/schema/definitions.rng accepts: it also becomes a file name).
using msg::valid_name;

/// invalid_argument unless `name` is a valid name for a new `kind`.
msg::error check_new_name(const std::string& kind, const std::string& name);

/// invalid_argument unless pcloud supports `arch`.
msg::error check_arch(const std::string& arch);

/// Parses "80" or, with `protocol`, "53/udp" (tcp when not given).
msg::error parse_port(const std::string& text, const char* what, uint16_t& port,
                      std::string* protocol);

/// Applies `assembly_set`'s SETTING VALUE to `x`; `message` says what was
/// done.
msg::error apply_setting(const catalog& defs, msg::assembly_spec& x,
                         const std::string& setting, const std::string& value,
                         std::string& message);

/// Applies `escalation_*_set`'s MAX_FAILURES WINDOW [DELAY] to `d` (an
/// empty `delay` keeps the restart delay as it is).
msg::error apply_escalation(msg::deployable_definition& d, bool resources,
                            const std::string& max_failures,
                            const std::string& window, const std::string& delay,
                            std::string& message);

// -- lookups ---------------------------------------------------------------

/// The assembly or deployable called `name`, or nullptr and not_found.
msg::assembly_spec* find_assembly(catalog& defs, const std::string& name,
                                  msg::error& err);
msg::deployable_definition*
find_deployable(catalog& defs, const std::string& name, msg::error& err);

/// Resource `name` of `x`, or nullptr and not_found.
msg::resource_spec* find_resource(msg::assembly_spec& x,
                                  const std::string& name, msg::error& err);

/// The deployable an assembly belongs to, or empty.
std::string owner_of(const catalog& defs, const std::string& assembly);

/// Whether the deployable `name` is marked running.
bool is_running(const catalog& defs, const std::string& name);

/// wrong_state: the deployable runs and must be stopped first.
msg::error running_error(const std::string& deployable);

/// wrong_state if the assembly's deployable runs: its agent holds the
/// resource set of the running VM.
msg::error check_not_running(const catalog& defs, const std::string& assembly);

/// The assemblies that use JEOS `jeos`.
std::vector<std::string> users_of_jeos(const catalog& defs,
                                       const std::string& jeos);

// -- host ports ------------------------------------------------------------

/// "80/tcp"
std::string port_key(const std::string& protocol, uint16_t port);

/// Who holds host port `key` in the definitions ("assy1/www (http)"), or
/// empty. `skip` leaves out one assembly: the one being changed, whose own
/// ports the caller counts itself.
std::string holder_of(const catalog& defs, const std::string& key,
                      const std::string& skip = {});

/// The host ports `x` holds itself, except those still to be allocated.
std::set<std::string> own_ports(const msg::assembly_spec& x);

/// Host ports to try for every port of `draft` that has none: FIRST + the
/// guest port when free (http 80 -> 20080), else the next free ones above
/// it, skipping ports other definitions hold; at most 32 per port.
std::vector<msg::service_port> port_candidates(const catalog& defs,
                                               const msg::assembly_spec& draft);

/// Gives every port of `draft` without a host port one of `free` (the
/// candidates nothing on the host has bound), checked again against the
/// definitions; unavailable when one is left without.
msg::error assign_ports(const catalog& defs, msg::assembly_spec& draft,
                        const std::vector<msg::service_port>& free);

// -- what the operator sees ------------------------------------------------

std::string join(const std::vector<std::string>& xs,
                 const std::string& sep = ", ");

/// "http 127.0.0.1:20080 -> 80, ..." for the ports of `r`; `addresses` are
/// the guest's (from its agent), used where nothing is forwarded.
std::string endpoints_of(const catalog& defs, const msg::assembly_spec& x,
                         const msg::resource_spec& r,
                         const std::vector<std::string>& addresses = {});

/// A reply with a table of `columns` and no rows yet.
msg::shell_reply table(std::vector<std::string> columns);

/// A successful reply saying `message`.
msg::shell_reply ok(std::string message);

/// The rows of assembly_list; `addresses` are the running guests' (by
/// assembly), for services on libvirt networks.
msg::shell_reply
assembly_rows(const catalog& defs,
              const std::map<std::string, std::vector<std::string>>& addresses
              = {});
msg::shell_reply template_rows(const catalog& defs);
msg::shell_reply deployable_rows(const catalog& defs);

/// The rows of deployable_status for one deployable's status.
void add_status_rows(const catalog& defs, msg::shell_reply& r,
                     const msg::deployable_status& s);

/// The status of a deployable never started since pcloudd started: every
/// assembly and resource STOPPED.
msg::deployable_status never_started(const catalog& defs,
                                     const std::string& name);

/// The spec a deployable actor runs: the definition with its assemblies'
/// definitions filled in; not_found when one is missing.
msg::deployable_spec spec_of(const catalog& defs,
                             const msg::deployable_definition& d,
                             msg::error& err);

/// A version 4 UUID from `random`.
std::string new_uuid(std::mt19937_64& random);

} // namespace pcloud::actors
