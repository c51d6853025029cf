// What pcloudsh and pcloudd say to each other, and what the store keeps.
// Requests name a command and its arguments; replies carry a message and,
// for list and status commands, a table that the shell renders as text or
// JSON. Every request carries the caller's token: the shell service checks
// it on each one (a check at login only is bypassable in CAF 0.17).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/definitions.hpp"
#include "messages/error.hpp"

namespace pcloud::msg {

/// A deployable as the operator defined it: assemblies by name. The
/// assemblies' own definitions live on their own.
struct deployable_definition {
  std::string name;
  std::vector<std::string> assemblies;
  deployable_policy policy = deployable_policy::restart_all;
  uint32_t max_restarts = 1;
  caf::timespan restart_window{std::chrono::hours(1)};
  escalation_policy assembly_escalation = default_assembly_policy();
  escalation_policy resource_escalation = default_resource_policy();
  /// Whether the operator started it: a restarted pcloudd starts (adopts)
  /// every deployable that was running.
  bool running = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        deployable_definition& x) {
  return f(caf::meta::type_name("deployable_definition"), x.name, x.assemblies,
           x.policy, x.max_restarts, x.restart_window, x.assembly_escalation,
           x.resource_escalation, x.running);
}

bool operator==(const deployable_definition& x, const deployable_definition& y);

/// Everything the store holds, as loaded at start-up. `problems` lists the
/// files that could not be loaded and were set aside, one line each.
struct definitions {
  std::vector<assembly_spec> assemblies;
  std::vector<deployable_definition> deployables;
  std::vector<std::string> problems;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, definitions& x) {
  return f(caf::meta::type_name("definitions"), x.assemblies, x.deployables,
           x.problems);
}

struct shell_request {
  std::string token;
  std::string command;
  std::vector<std::string> args;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_request& x) {
  return f(caf::meta::type_name("shell_request"), x.token, x.command, x.args);
}

struct shell_reply {
  /// What kind of failure, or none: pcloudsh's exit status and --json
  /// error come from it.
  errc code = errc::none;
  /// For people: what was done, or the one-line error.
  std::string message;
  /// A table for list and status commands; empty otherwise.
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;

  bool ok() const noexcept { return code == errc::none; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_reply& x) {
  return f(caf::meta::type_name("shell_reply"), x.code, x.message, x.columns,
           x.rows);
}

/// A failed reply carrying `err`'s code and message.
shell_reply failed_reply(const error& err);

/// What a command's argument names, for help texts and tab completion.
enum class argument_kind : uint8_t {
  new_name,
  assembly,
  deployable,
  distro,
  jeos,
  arch,
  resource,
  template_name,
  number,
  duration,
  text,
};

struct command_info {
  const char* name;
  /// Argument names as help shows them, e.g. {"NAME", "JEOS", "ARCH"}.
  std::vector<const char*> arguments;
  std::vector<argument_kind> kinds;
  const char* summary;
  /// Served by pcloudsh itself (help, quit, events, assembly_console).
  bool local = false;
};

/// Every command of pcloudsh, in the order `help` lists them.
const std::vector<command_info>& commands();

/// The command called `name`, or nullptr.
const command_info* find_command(const std::string& name);

/// invalid_argument: no command called `name`.
error unknown_command(const std::string& name);

/// "assembly_create NAME JEOS ARCH"
std::string usage_of(const command_info& cmd);

/// How many arguments must be given; optional ones are shown as "[NAME]".
size_t required_arguments(const command_info& cmd);

} // namespace pcloud::msg
