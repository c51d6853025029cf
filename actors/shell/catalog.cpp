#include "actors/shell/catalog.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace pcloud::actors {

namespace {

using msg::errc;

const std::vector<std::string> supported_archs{"x86_64"};

bool all_digits(const std::string& x) {
  return std::all_of(x.begin(), x.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

template <class T>
T* find_named(std::map<std::string, T>& table, const std::string& name,
              const char* kind, msg::error& err) {
  auto i = table.find(name);
  if (i == table.end()) {
    err = {errc::not_found, std::string{"no "} + kind + " named '" + name
                              + "' (" + kind + "_list shows them)"};
    return nullptr;
  }
  return &i->second;
}

} // namespace

// -- checks ----------------------------------------------------------------

msg::error check_new_name(const std::string& kind, const std::string& name) {
  return msg::check_name(kind, name);
}

msg::error check_arch(const std::string& arch) {
  if (std::find(supported_archs.begin(), supported_archs.end(), arch)
      == supported_archs.end()) {
    return {errc::invalid_argument, "unsupported architecture '" + arch
                                      + "' (supported: " + join(supported_archs)
                                      + ")"};
  }
  return {};
}

msg::error parse_port(const std::string& text, const char* what, uint16_t& port,
                      std::string* protocol) {
  auto number = text;
  if (protocol != nullptr) {
    *protocol = "tcp";
    if (auto slash = text.find('/'); slash != std::string::npos) {
      *protocol = text.substr(slash + 1);
      number = text.substr(0, slash);
      if (*protocol != "tcp" && *protocol != "udp") {
        return {errc::invalid_argument, std::string{what} + " '" + text
                                          + "': the protocol is tcp or udp"};
      }
    }
  }
  if (number.empty() || number.size() > 5 || !all_digits(number)
      || std::stoul(number) < 1 || std::stoul(number) > 65535) {
    return {errc::invalid_argument,
            std::string{what} + " must be a port number from 1 to 65535, not '"
              + text + "'"};
  }
  port = static_cast<uint16_t>(std::stoul(number));
  return {};
}

msg::error apply_setting(const catalog& defs, msg::assembly_spec& x,
                         const std::string& setting, const std::string& value,
                         std::string& message) {
  auto invalid = [](std::string text) {
    return msg::error{errc::invalid_argument, std::move(text)};
  };
  auto number = [&](uint32_t low, uint32_t high, uint32_t& out) {
    if (value.empty() || value.size() > 6 || !all_digits(value)
        || std::stoul(value) < low || std::stoul(value) > high) {
      return invalid(setting + " must be a number from " + std::to_string(low)
                     + " to " + std::to_string(high) + ", not '" + value + "'");
    }
    out = static_cast<uint32_t>(std::stoul(value));
    return msg::error{};
  };
  auto duration = [&](caf::timespan& out) {
    auto d = msg::parse_duration(value);
    if (!d || *d <= caf::timespan{0}) {
      return invalid(setting + " must be a duration such as 240s or 5min, not '"
                     + value + "'");
    }
    out = *d;
    return msg::error{};
  };
  msg::error bad;
  if (setting == "memory") {
    bad = number(64, 1048576, x.memory_mib);
  } else if (setting == "vcpus") {
    bad = number(1, 64, x.vcpus);
  } else if (setting == "boot_timeout") {
    bad = duration(x.boot_timeout);
  } else if (setting == "stop_timeout") {
    bad = duration(x.stop_timeout);
  } else if (setting == "transport") {
    if (value == msg::channel_transport) {
      x.agent_transport.clear();
    } else if (value == msg::no_agent) {
      x.agent_transport = value;
    } else if (value != msg::tcp_transport) {
      bad = invalid("transport must be channel, tcp or none, not '" + value
                    + "'");
    } else if (defs.network.agent_port == 0) {
      bad = {errc::wrong_state,
             "pcloudd has no agent listener for the tcp transport (start it "
             "with --agent-listen ADDR[:PORT])"};
    } else {
      x.agent_transport = value;
    }
  } else {
    return invalid("unknown setting '" + setting
                   + "' (settings: memory, vcpus, boot_timeout, stop_timeout, "
                     "transport)");
  }
  if (!bad) {
    message = "assembly " + x.name + ": " + setting + " " + value
              + (setting == "memory" ? " MiB" : "");
  }
  return bad;
}

msg::error apply_escalation(msg::deployable_definition& d, bool resources,
                            const std::string& max_failures,
                            const std::string& window, const std::string& delay,
                            std::string& message) {
  if (max_failures.empty() || max_failures.size() > 6
      || !all_digits(max_failures)) {
    return {errc::invalid_argument,
            "MAX_FAILURES must be a whole number from 0 to 999999, not '"
              + max_failures + "'"};
  }
  auto span = msg::parse_duration(window);
  if (!span || span->count() <= 0) {
    return {errc::invalid_argument,
            "WINDOW must be a duration such as 60s, 5min or 1h, not '" + window
              + "'"};
  }
  auto pause = delay.empty() ? std::optional<caf::timespan>{}
                             : msg::parse_duration(delay);
  if (!delay.empty() && (!pause || *pause > std::chrono::hours(1))) {
    return {errc::invalid_argument,
            "DELAY must be a duration of at most 1h such as 500ms or 2s, not '"
              + delay + "'"};
  }
  auto& policy = resources ? d.resource_escalation : d.assembly_escalation;
  policy.max_failures = static_cast<uint32_t>(std::stoul(max_failures));
  policy.window = *span;
  if (pause) {
    policy.backoff_initial = *pause;
    policy.backoff_max = std::max(policy.backoff_max, *pause);
  }
  message = std::string{resources ? "resource" : "assembly"} + " escalation of "
            + d.name + ": "
            + (policy.max_failures == 0
                 ? "never escalate"
                 : std::to_string(policy.max_failures) + " failures in "
                     + msg::format_duration(policy.window))
            + ", restart delay " + msg::format_duration(policy.backoff_initial);
  if (d.running) {
    message += " (takes effect at the next deployable_start)";
  }
  return {};
}

// -- lookups ---------------------------------------------------------------

msg::assembly_spec* find_assembly(catalog& defs, const std::string& name,
                                  msg::error& err) {
  return find_named(defs.assemblies, name, "assembly", err);
}

msg::deployable_definition*
find_deployable(catalog& defs, const std::string& name, msg::error& err) {
  return find_named(defs.deployables, name, "deployable", err);
}

msg::resource_spec* find_resource(msg::assembly_spec& x,
                                  const std::string& name, msg::error& err) {
  for (auto& r : x.resources) {
    if (r.name == name) {
      return &r;
    }
  }
  err = {errc::not_found, "assembly '" + x.name + "' has no resource '" + name
                            + "' (assembly_resource_list " + x.name + ")"};
  return nullptr;
}

std::string owner_of(const catalog& defs, const std::string& assembly) {
  for (auto& [name, dep] : defs.deployables) {
    auto& xs = dep.assemblies;
    if (std::find(xs.begin(), xs.end(), assembly) != xs.end()) {
      return name;
    }
  }
  return {};
}

bool is_running(const catalog& defs, const std::string& name) {
  auto i = defs.deployables.find(name);
  return i != defs.deployables.end() && i->second.running;
}

msg::error running_error(const std::string& deployable) {
  return {errc::wrong_state, "deployable '" + deployable
                               + "' is running (deployable_stop " + deployable
                               + " first)"};
}

msg::error check_not_running(const catalog& defs, const std::string& assembly) {
  auto owner = owner_of(defs, assembly);
  if (!owner.empty() && is_running(defs, owner)) {
    return {errc::wrong_state, "assembly '" + assembly
                                 + "' runs in deployable '" + owner
                                 + "' (deployable_stop " + owner + " first)"};
  }
  return {};
}

std::vector<std::string> users_of_jeos(const catalog& defs,
                                       const std::string& jeos) {
  std::vector<std::string> users;
  for (auto& [name, spec] : defs.assemblies) {
    if (spec.jeos == jeos) {
      users.push_back(name);
    }
  }
  return users;
}

// -- host ports ------------------------------------------------------------

std::string port_key(const std::string& protocol, uint16_t port) {
  return std::to_string(port) + "/" + protocol;
}

std::string holder_of(const catalog& defs, const std::string& key,
                      const std::string& skip) {
  for (auto& [name, x] : defs.assemblies) {
    if (name == skip) {
      continue;
    }
    for (auto& r : x.resources) {
      for (auto& p : r.ports) {
        if (p.host_port != 0 && port_key(p.protocol, p.host_port) == key) {
          return name + "/" + r.name + " (" + p.name + ")";
        }
      }
    }
  }
  return {};
}

std::set<std::string> own_ports(const msg::assembly_spec& x) {
  std::set<std::string> result;
  for (auto& r : x.resources) {
    for (auto& p : r.ports) {
      if (p.host_port != 0) {
        result.insert(port_key(p.protocol, p.host_port));
      }
    }
  }
  return result;
}

std::vector<msg::service_port>
port_candidates(const catalog& defs, const msg::assembly_spec& draft) {
  constexpr size_t candidates_per_port = 32;
  auto& net = defs.network;
  auto span = static_cast<uint32_t>(net.last_port - net.first_port) + 1;
  std::set<std::string> taken = own_ports(draft);
  std::vector<msg::service_port> candidates;
  for (auto& r : draft.resources) {
    for (auto& p : r.ports) {
      if (p.host_port != 0) {
        continue;
      }
      uint32_t offset = p.guest_port < span ? p.guest_port : 0;
      size_t found = 0;
      for (uint32_t i = 0; i < span && found < candidates_per_port; ++i) {
        auto port = static_cast<uint16_t>(net.first_port + (offset + i) % span);
        auto key = port_key(p.protocol, port);
        if (taken.count(key) > 0 || !holder_of(defs, key, draft.name).empty()) {
          continue;
        }
        auto c = p;
        c.host_port = port;
        candidates.push_back(c);
        ++found;
      }
    }
  }
  return candidates;
}

msg::error assign_ports(const catalog& defs, msg::assembly_spec& draft,
                        const std::vector<msg::service_port>& free) {
  auto taken = own_ports(draft);
  auto& net = defs.network;
  for (auto& r : draft.resources) {
    for (auto& p : r.ports) {
      if (p.host_port != 0) {
        continue;
      }
      for (auto& c : free) {
        auto key = port_key(c.protocol, c.host_port);
        if (c.name == p.name && c.guest_port == p.guest_port
            && c.protocol == p.protocol && taken.count(key) == 0
            && holder_of(defs, key, draft.name).empty()) {
          p.host_port = c.host_port;
          taken.insert(key);
          break;
        }
      }
      if (p.host_port == 0) {
        return {errc::in_use, "no free host port for " + r.name + " ("
                                + port_key(p.protocol, p.guest_port) + ") in "
                                + std::to_string(net.first_port) + "-"
                                + std::to_string(net.last_port)};
      }
    }
  }
  return {};
}

// -- what the operator sees ------------------------------------------------

std::string join(const std::vector<std::string>& xs, const std::string& sep) {
  std::string result;
  for (auto& x : xs) {
    if (!result.empty()) {
      result += sep;
    }
    result += x;
  }
  return result;
}

std::string endpoints_of(const catalog& defs, const msg::assembly_spec& x,
                         const msg::resource_spec& r,
                         const std::vector<std::string>& addresses) {
  auto& net = defs.network;
  auto network = x.network.empty() ? net.default_network : x.network;
  if (network == msg::no_network) {
    return r.ports.empty() ? "" : "(no network)";
  }
  bool forwarded = network == msg::user_network;
  auto address
    = forwarded ? net.forward_address : msg::service_address(addresses);
  std::vector<std::string> xs;
  for (auto& p : r.ports) {
    xs.push_back(msg::describe_port(p, address, forwarded));
  }
  return join(xs);
}

msg::shell_reply table(std::vector<std::string> columns) {
  msg::shell_reply r;
  r.columns = std::move(columns);
  return r;
}

msg::shell_reply ok(std::string message) {
  msg::shell_reply r;
  r.message = std::move(message);
  return r;
}

msg::shell_reply assembly_rows(
  const catalog& defs,
  const std::map<std::string, std::vector<std::string>>& addresses) {
  auto r = table({"name", "jeos", "resources", "deployable", "network",
                  "services", "memory_mib", "vcpus", "transport", "uuid"});
  for (auto& [name, x] : defs.assemblies) {
    std::vector<std::string> names;
    std::vector<std::string> services;
    for (auto& res : x.resources) {
      names.push_back(res.name);
      auto live = addresses.find(name);
      auto where = endpoints_of(
        defs, x, res,
        live != addresses.end() ? live->second : std::vector<std::string>{});
      if (!where.empty()) {
        services.push_back(res.name + " " + where);
      }
    }
    auto network = x.network.empty() ? defs.network.default_network : x.network;
    auto transport
      = x.agent_transport.empty() ? msg::channel_transport : x.agent_transport;
    r.rows.push_back({name, x.jeos, join(names, ","), owner_of(defs, name),
                      network, join(services, "; "),
                      std::to_string(x.memory_mib), std::to_string(x.vcpus),
                      transport, x.uuid});
  }
  return r;
}

msg::shell_reply template_rows(const catalog& defs) {
  auto r = table({"name", "jeos", "class", "type", "ports", "description"});
  for (auto& t : defs.templates) {
    for (auto& [jeos, spec] : t.variants) {
      std::vector<std::string> ports;
      for (auto& p : spec.ports) {
        ports.push_back(msg::describe_port(p, "", false));
      }
      r.rows.push_back({t.name, jeos, spec.resource_class, spec.type,
                        join(ports), t.description});
    }
  }
  return r;
}

msg::shell_reply deployable_rows(const catalog& defs) {
  auto r = table({"name", "assemblies", "running"});
  for (auto& [name, d] : defs.deployables) {
    r.rows.push_back({name, join(d.assemblies, ","), d.running ? "yes" : "no"});
  }
  return r;
}

/// The probe's last verdict and when the agent reported it.
static std::string probe_cell(const msg::resource_status& x) {
  if (x.probe.empty()) {
    return "";
  }
  auto t = static_cast<time_t>(x.probe_at_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char at[16];
  std::strftime(at, sizeof(at), "%H:%M:%S", &tm);
  return x.probe + " (" + at + ")";
}

void add_status_rows(const catalog& defs, msg::shell_reply& r,
                     const msg::deployable_status& s) {
  r.rows.push_back({s.name, msg::to_string(s.state), std::to_string(s.restarts),
                    "", "", "", s.reason});
  for (auto& a : s.assemblies) {
    auto path = s.name + "/" + a.name;
    r.rows.push_back({path, msg::to_string(a.state), std::to_string(a.restarts),
                      a.domain_name, "", "", a.reason});
    auto spec = defs.assemblies.find(a.name);
    for (auto& res : a.resources) {
      std::string where;
      if (spec != defs.assemblies.end()) {
        for (auto& def : spec->second.resources) {
          if (def.name == res.name) {
            where = endpoints_of(defs, spec->second, def, {a.service_address});
          }
        }
      }
      r.rows.push_back({path + "/" + res.name, msg::to_string(res.state),
                        std::to_string(res.restarts), "", where,
                        probe_cell(res), res.reason});
    }
  }
}

msg::deployable_status never_started(const catalog& defs,
                                     const std::string& name) {
  msg::deployable_status s;
  s.name = name;
  s.reason = "not started";
  auto d = defs.deployables.find(name);
  if (d == defs.deployables.end()) {
    return s;
  }
  for (auto& assembly : d->second.assemblies) {
    msg::assembly_status x;
    x.name = assembly;
    auto j = defs.assemblies.find(assembly);
    if (j != defs.assemblies.end()) {
      for (auto& res : j->second.resources) {
        msg::resource_status y;
        y.name = res.name;
        x.resources.push_back(y);
      }
    }
    s.assemblies.push_back(x);
  }
  return s;
}

msg::deployable_spec spec_of(const catalog& defs,
                             const msg::deployable_definition& d,
                             msg::error& err) {
  msg::deployable_spec spec;
  spec.name = d.name;
  spec.policy = d.policy;
  spec.max_restarts = d.max_restarts;
  spec.restart_window = d.restart_window;
  spec.assembly_escalation = d.assembly_escalation;
  spec.resource_escalation = d.resource_escalation;
  for (auto& name : d.assemblies) {
    auto i = defs.assemblies.find(name);
    if (i == defs.assemblies.end()) {
      err = {errc::not_found, "deployable '" + d.name + "' names assembly '"
                                + name + "', which does not exist"};
      return spec;
    }
    spec.assemblies.push_back(i->second);
    auto& network = spec.assemblies.back().network;
    if (network.empty()) {
      // The tree decides by it what ACTIVE waits for (an address, a
      // forward), so it runs with the network the assembly really gets.
      network = defs.network.default_network;
    }
  }
  return spec;
}

std::string new_uuid(std::mt19937_64& random) {
  uint64_t hi = random();
  uint64_t lo = random();
  // Version 4, variant 10xx.
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[37];
  std::snprintf(
    buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
    static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
    static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
    static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

} // namespace pcloud::actors
