// The shell service's commands, one file per domain. Each handler gets the
// command's arguments, already counted against the command table
// (messages/commands.cpp), and answers a reply or an error with its code.
#pragma once

#include "actors/shell/service_state.hpp"

namespace pcloud::actors::shell {

// images.cpp
reply jeos_create(self_ptr self, args a);
reply jeos_import(self_ptr self, args a);
reply jeos_list(self_ptr self, args a);
reply jeos_delete(self_ptr self, args a);

// assemblies.cpp
reply assembly_create(self_ptr self, args a);
reply assembly_clone(self_ptr self, args a);
reply assembly_delete(self_ptr self, args a);
reply assembly_list(self_ptr self, args a);
reply assembly_network_set(self_ptr self, args a);
reply assembly_set(self_ptr self, args a);

// resources.cpp
reply assembly_resource_add(self_ptr self, args a);
reply assembly_resource_remove(self_ptr self, args a);
reply assembly_resource_list(self_ptr self, args a);
reply assembly_port_set(self_ptr self, args a);
reply assembly_port_remove(self_ptr self, args a);
reply assembly_probe_set(self_ptr self, args a);
reply template_list(self_ptr self, args a);

// deployables.cpp
reply deployable_create(self_ptr self, args a);
reply deployable_delete(self_ptr self, args a);
reply deployable_list(self_ptr self, args a);
reply deployable_assembly_add(self_ptr self, args a);
reply deployable_assembly_remove(self_ptr self, args a);
reply deployable_assembly_list(self_ptr self, args a);
reply deployable_start(self_ptr self, args a);
reply deployable_stop(self_ptr self, args a);
reply deployable_status(self_ptr self, args a);
reply escalation_resource_set(self_ptr self, args a);
reply escalation_assembly_set(self_ptr self, args a);

/// Starts a deployable actor for `spec`, replacing a stopped one.
void launch(self_ptr self, const msg::deployable_spec& spec);

/// Asks the running ones among the deployables `names` for their status
/// and calls `done` with those that answered (by name) once all have
/// answered or failed to within the status timeout.
void live_statuses(
  self_ptr self, const std::vector<std::string>& names,
  std::function<void(std::map<std::string, msg::deployable_status>)> done);

// sessions.cpp: the event stream and guest consoles
caf::result<std::vector<msg::event>>
subscribe_events(self_ptr self, msg::event_listener_actor listener);
caf::result<uint64_t> open_console(self_ptr self, const std::string& assembly,
                                   msg::console_listener_actor listener);
void console_input(self_ptr self, uint64_t id, const std::string& bytes);
void close_console(self_ptr self, uint64_t id);
/// Forgets a console session that ended (its actor went down).
bool console_ended(self_ptr self, const caf::actor_addr& source);

} // namespace pcloud::actors::shell
