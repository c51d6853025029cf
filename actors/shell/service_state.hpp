// What the shell service's handlers share: its state, the actors it talks
// to, and the ways a handler answers (at once, after the store has the
// change on disk, or with an error that carries its code).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/shell/catalog.hpp"
#include "messages/interfaces.hpp"

namespace pcloud::actors {

struct shell_services {
  msg::store_actor store;
  msg::image_store_actor images;
  msg::event_bus_actor bus;
  msg::hypervisor_actor hypervisor;
  msg::guest_gateway_actor gateway;
  msg::console_factory_actor consoles;
  network_settings network;
  /// Checks from the host that services answer (none: resources are ACTIVE
  /// when their agents say they run).
  msg::service_prober_actor prober;
};

struct shell_service_state {
  static inline const char* name = "pcloud.shell_service";
  std::string token;
  shell_services services;
  /// The operator's definitions (the network settings copied from
  /// `services`).
  catalog defs;
  /// Deployable actors, from deployable_start until the next start replaces
  /// them (a stopped deployable keeps its actor for status).
  std::map<std::string, msg::deployable_actor> running;
  /// When each deployable's actor was last restarted after it died (the
  /// supervisor's budget: a tree that keeps dying is given up on).
  std::map<std::string, std::vector<caf::actor_clock::time_point>>
    tree_restarts;
  /// Makes UUIDs; seeded by the caller (actors/ reads no devices).
  std::mt19937_64 random;
  /// Open console sessions by number.
  std::map<uint64_t, msg::console_session_actor> consoles;
  uint64_t next_console = 1;
};

namespace shell {

using self_ptr
  = msg::shell_service_actor::stateful_pointer<shell_service_state>;
using reply_promise = caf::typed_response_promise<msg::shell_reply>;
using args = const std::vector<std::string>&;
using reply = caf::result<msg::shell_reply>;

/// A deployable's actor that dies is restarted (adopting its VMs) at most
/// this often in this window; beyond that it is a bug that a restart does
/// not cure, and the deployable is left alone with an error logged.
inline constexpr size_t max_tree_restarts = 5;
inline constexpr auto tree_restart_window = std::chrono::minutes(1);

inline constexpr auto store_timeout = std::chrono::seconds(30);
inline constexpr auto status_timeout = std::chrono::seconds(5);
/// Building a debian12 JEOS under a slow mirror can take long.
inline constexpr auto build_timeout = std::chrono::minutes(60);

/// A failed reply; `prefix` goes before the error's message.
msg::shell_reply failed(const msg::error& err, const std::string& prefix = {});

/// A failed reply for an error another actor answered.
msg::shell_reply failed(const caf::error& err, const std::string& prefix = {});

/// Persists `value` (an assembly or a deployable) through the store, then
/// answers `message`; on failure runs `rollback` and answers "not saved".
void persist(self_ptr self, reply_promise rp, msg::assembly_spec value,
             std::function<void()> rollback, std::string message);
void persist(self_ptr self, reply_promise rp, msg::deployable_definition value,
             std::function<void()> rollback, std::string message);

/// The same, answering through a new promise.
template <class T>
reply persist(self_ptr self, T value, std::function<void()> rollback,
              std::string message) {
  auto rp = self->make_response_promise<msg::shell_reply>();
  persist(self, rp, std::move(value), std::move(rollback), std::move(message));
  return rp;
}

/// Deletes `value` from the store; on failure runs `rollback` and answers
/// "not deleted".
reply erase(self_ptr self, msg::assembly_spec value,
            std::function<void()> rollback, std::string message);
reply erase(self_ptr self, msg::deployable_definition value,
            std::function<void()> rollback, std::string message);

/// Changes the entry `name` of the assemblies or deployables: `change`
/// edits a copy and returns an error, or none and the message to answer;
/// the copy is saved, and a failed write puts the old entry back.
template <class T>
using change_fn = std::function<msg::error(T&, std::string&)>;

reply edit_assembly(self_ptr self, const std::string& name,
                    change_fn<msg::assembly_spec> change);
reply edit_deployable(self_ptr self, const std::string& name,
                      change_fn<msg::deployable_definition> change);

/// Saves `draft`, made from `base` before a request to another actor, in
/// place of the assembly, once checked that nothing changed it meanwhile
/// (another shell's edit would be lost) and that it does not run now.
void save_draft(self_ptr self, reply_promise rp, const msg::assembly_spec& base,
                msg::assembly_spec draft, std::string message);

/// Gives every port of `draft` without a host port a free one (see
/// port_candidates), asking the hypervisor which are free on the host.
/// `done` runs in this actor with the filled draft, or with an error.
using allocated = std::function<void(msg::error, msg::assembly_spec)>;
void allocate_ports(self_ptr self, msg::assembly_spec draft, allocated done);

} // namespace shell

} // namespace pcloud::actors
