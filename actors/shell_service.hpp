// The shell service: what pcloudsh talks to. A thin actor: it checks the
// caller's token on every message (in constant time; it is published on a
// CAF remote port) and dispatches each command to its handler in
// actors/shell/, one file per domain (images, assemblies, resources,
// deployables, sessions). The handlers keep the operator's definitions
// (persisted through the store before any reply says "done"), start and
// stop deployable actors, and answer status from them.
#pragma once

#include <string>
#include <vector>

#include "actors/shell/service_state.hpp"
#include "messages/interfaces.hpp"

namespace pcloud::actors {

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

} // namespace pcloud::actors
