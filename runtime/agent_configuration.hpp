// What the host tells an assembly's agent to run: the definition's resources
// as the guest link's `configure` message. A pure function, golden-tested
// for every resource class (tests/runtime/domain_plan_test.cpp,
// tests/data/plan/).
#pragma once

#include <string>
#include <vector>

#include "guest/link/wire.hpp"
#include "messages/definitions.hpp"

namespace pcloud::runtime {

/// One resource as the agent runs it (durations in milliseconds).
wire::resource_definition definition_of(const msg::resource_spec& spec);

/// The `configure` message for `assembly`'s agent.
wire::configure configuration_for(const std::string& assembly,
                                  const std::vector<msg::resource_spec>& specs);

} // namespace pcloud::runtime
