#include "runtime/agent_configuration.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

static_assert(pcloud::msg::max_resources_per_assembly
                <= pcloud::wire::limits::max_resources,
              "the shell allows more resources than the guest link carries");

namespace pcloud::runtime {

wire::resource_definition definition_of(const msg::resource_spec& spec) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  auto ms = [](caf::timespan d) {
    auto n = duration_cast<milliseconds>(d).count();
    return static_cast<uint32_t>(std::clamp<int64_t>(n, 0, UINT32_MAX));
  };
  wire::resource_definition x{spec.name,
                              spec.resource_class,
                              spec.type,
                              spec.parameters,
                              ms(spec.monitor_interval),
                              ms(spec.monitor_timeout),
                              {}};
  auto& p = spec.probe;
  if (!p.kind.empty()) {
    x.probe = {p.kind,
               p.port,
               p.path,
               p.status_min,
               p.status_max,
               p.body,
               p.command,
               ms(p.interval),
               ms(p.timeout),
               p.failures,
               ms(p.initial_delay)};
  }
  return x;
}

wire::configure
configuration_for(const std::string& assembly,
                  const std::vector<msg::resource_spec>& specs) {
  wire::configure result;
  result.assembly = assembly;
  for (auto& s : specs) {
    result.resources.push_back(definition_of(s));
  }
  return result;
}

} // namespace pcloud::runtime
