#include <cstdio>
#include <tuple>

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include "messages/error.hpp"
#include "messages/interfaces.hpp"

namespace pcloud::msg {

using namespace std::chrono_literals;

// -- definitions
// ----------------------------------------------------------------

bool operator==(const escalation_policy& x, const escalation_policy& y) {
  return std::tie(x.max_failures, x.window, x.backoff_initial, x.backoff_max,
                  x.backoff_reset)
         == std::tie(y.max_failures, y.window, y.backoff_initial, y.backoff_max,
                     y.backoff_reset);
}

escalation_policy default_resource_policy() {
  return {5, 60s, 500ms, 30s, 5min};
}

escalation_policy default_assembly_policy() {
  return {3, 300s, 500ms, 60s, 5min};
}

escalation_policy no_escalation_policy() {
  return {0, caf::timespan{0}, caf::timespan{0}, caf::timespan{0},
          caf::timespan{0}};
}

std::string to_string(deployable_policy x) {
  switch (x) {
  case deployable_policy::restart_all:
    return "restart-all";
  case deployable_policy::stop:
    return "stop";
  }
  return "invalid";
}

std::optional<deployable_policy> parse_deployable_policy(const std::string& x) {
  if (x == "restart-all") {
    return deployable_policy::restart_all;
  }
  if (x == "stop") {
    return deployable_policy::stop;
  }
  return std::nullopt;
}

bool operator==(const service_port& x, const service_port& y) {
  return std::tie(x.name, x.protocol, x.guest_port, x.host_port)
         == std::tie(y.name, y.protocol, y.guest_port, y.host_port);
}

std::string describe_port(const service_port& x, const std::string& address,
                          bool forwarded) {
  auto proto = x.protocol == "tcp" ? std::string{} : "/" + x.protocol;
  auto guest = std::to_string(x.guest_port) + proto;
  if (forwarded && x.host_port != 0) {
    return x.name + " " + address + ":" + std::to_string(x.host_port) + " -> "
           + guest;
  }
  if (!forwarded && !address.empty()) {
    auto host
      = address.find(':') == std::string::npos ? address : "[" + address + "]";
    return x.name + " " + host + ":" + guest;
  }
  return x.name + " " + guest;
}

bool operator==(const resource_spec& x, const resource_spec& y) {
  return std::tie(x.name, x.resource_class, x.type, x.parameters,
                  x.monitor_interval, x.monitor_timeout, x.escalation, x.ports,
                  x.probe)
         == std::tie(y.name, y.resource_class, y.type, y.parameters,
                     y.monitor_interval, y.monitor_timeout, y.escalation,
                     y.ports, y.probe);
}

bool operator==(const assembly_spec& x, const assembly_spec& y) {
  return std::tie(x.name, x.uuid, x.jeos, x.memory_mib, x.vcpus, x.resources,
                  x.escalation, x.boot_timeout, x.stop_timeout, x.network,
                  x.agent_transport)
         == std::tie(y.name, y.uuid, y.jeos, y.memory_mib, y.vcpus, y.resources,
                     y.escalation, y.boot_timeout, y.stop_timeout, y.network,
                     y.agent_transport);
}

bool operator==(const deployable_spec& x, const deployable_spec& y) {
  return std::tie(x.name, x.assemblies, x.policy, x.max_restarts,
                  x.restart_window, x.assembly_escalation,
                  x.resource_escalation)
         == std::tie(y.name, y.assemblies, y.policy, y.max_restarts,
                     y.restart_window, y.assembly_escalation,
                     y.resource_escalation);
}

std::string format_duration(caf::timespan x) {
  using std::chrono::duration_cast;
  auto ns = x.count();
  auto whole
    = [](auto count, const char* unit) { return std::to_string(count) + unit; };
  if (ns == 0) {
    return "0s";
  }
  if (ns % 3'600'000'000'000 == 0) {
    return whole(ns / 3'600'000'000'000, "h");
  }
  if (ns % 60'000'000'000 == 0 && ns >= 600'000'000'000) {
    return whole(ns / 60'000'000'000, "min");
  }
  if (ns % 1'000'000'000 == 0) {
    return whole(ns / 1'000'000'000, "s");
  }
  if (ns >= 1'000'000'000) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2fs", static_cast<double>(ns) / 1e9);
    return buf;
  }
  if (ns >= 1'000'000) {
    return whole(duration_cast<std::chrono::milliseconds>(x).count(), " ms");
  }
  if (ns >= 1'000) {
    return whole(duration_cast<std::chrono::microseconds>(x).count(), " us");
  }
  return whole(ns, " ns");
}

// -- guest
// ------------------------------------------------------------------------

std::string to_string(resource_condition x) {
  switch (x) {
  case resource_condition::running:
    return "running";
  case resource_condition::stopped:
    return "stopped";
  case resource_condition::failed:
    return "failed";
  case resource_condition::start_failed:
    return "start_failed";
  }
  return "invalid";
}

std::string to_string(resource_operation x) {
  switch (x) {
  case resource_operation::start:
    return "start";
  case resource_operation::stop:
    return "stop";
  case resource_operation::restart:
    return "restart";
  case resource_operation::monitor:
    return "monitor";
  }
  return "invalid";
}

// -- hypervisor
// ---------------------------------------------------------------------

std::string to_string(domain_event_kind x) {
  switch (x) {
  case domain_event_kind::started:
    return "started";
  case domain_event_kind::stopped:
    return "stopped";
  case domain_event_kind::shutdown:
    return "shutdown";
  case domain_event_kind::crashed:
    return "crashed";
  case domain_event_kind::paused:
    return "paused";
  case domain_event_kind::resumed:
    return "resumed";
  }
  return "invalid";
}

bool is_death(domain_event_kind x) {
  return x == domain_event_kind::stopped || x == domain_event_kind::shutdown
         || x == domain_event_kind::crashed;
}

// -- events
// ---------------------------------------------------------------------------

std::string to_string(state x) {
  switch (x) {
  case state::stopped:
    return "STOPPED";
  case state::starting:
    return "STARTING";
  case state::active:
    return "ACTIVE";
  case state::recovering:
    return "RECOVERING";
  case state::failed:
    return "FAILED";
  }
  return "INVALID";
}

std::string path_of(const event& x) {
  auto result = x.deployable;
  for (auto* part : {&x.assembly, &x.resource}) {
    if (!part->empty()) {
      result += '/';
      result += *part;
    }
  }
  return result;
}

std::string to_string(const event& x) {
  auto result = path_of(x);
  result += ' ';
  result += to_string(x.state);
  if (!x.reason.empty()) {
    result += ": ";
    result += x.reason;
  }
  if (!x.action.empty()) {
    result += " -> ";
    result += x.action;
  }
  if (x.max_failures > 0 && x.failures > 0) {
    result += " (" + std::to_string(x.failures) + " of "
              + std::to_string(x.max_failures) + " in "
              + format_duration(x.window) + ")";
  }
  return result;
}

std::string format_exact_duration(caf::timespan x) {
  auto ns = x.count();
  constexpr int64_t ms = 1'000'000;
  if (ns == 0) {
    return "0s";
  }
  if (ns % (3600'000 * ms) == 0) {
    return std::to_string(ns / (3600'000 * ms)) + "h";
  }
  if (ns % (60'000 * ms) == 0) {
    return std::to_string(ns / (60'000 * ms)) + "min";
  }
  if (ns % (1000 * ms) == 0) {
    return std::to_string(ns / (1000 * ms)) + "s";
  }
  return std::to_string(ns / ms) + "ms";
}

std::optional<caf::timespan> parse_duration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  // At most 9 digits: no overflow even in hours.
  if (digits == 0 || digits > 9) {
    return std::nullopt;
  }
  int64_t count = std::stoll(text.substr(0, digits));
  auto unit = text.substr(digits);
  using namespace std::chrono;
  if (unit == "ms") {
    return caf::timespan{milliseconds(count)};
  }
  if (unit.empty() || unit == "s") {
    return caf::timespan{seconds(count)};
  }
  if (unit == "min" || unit == "m") {
    return caf::timespan{minutes(count)};
  }
  if (unit == "h") {
    return caf::timespan{hours(count)};
  }
  return std::nullopt;
}

bool operator==(const deployable_definition& x,
                const deployable_definition& y) {
  auto tie = [](const deployable_definition& d) {
    return std::tie(d.name, d.assemblies, d.policy, d.max_restarts,
                    d.restart_window, d.assembly_escalation,
                    d.resource_escalation, d.running);
  };
  return tie(x) == tie(y);
}

// -- registration
// ---------------------------------------------------------------------

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::pcloud>();
  // pcloud's errors render as "not_found: no assembly named 'x'" in CAF's
  // own output (sys.render, logs).
  cfg.add_error_category(caf::atom("pcloud"), [](uint8_t code, caf::atom_value,
                                                 const caf::message& ctx) {
    auto text = to_string(static_cast<errc>(code));
    if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
      text += ": " + ctx.get_as<std::string>(0);
    }
    return text;
  });
}

} // namespace pcloud::msg
