#include "runtime/definitions_xml.hpp"

#include <set>

#include "runtime/xml/document.hpp"

namespace pcloud::runtime {

namespace {

using msg::format_exact_duration;

void write_escalation(xml::node parent, const std::string& element,
                      const msg::escalation_policy& x) {
  parent.child(element)
    .attr("max-failures", std::to_string(x.max_failures))
    .attr("window", format_exact_duration(x.window))
    .attr("backoff-initial", format_exact_duration(x.backoff_initial))
    .attr("backoff-max", format_exact_duration(x.backoff_max))
    .attr("backoff-reset", format_exact_duration(x.backoff_reset));
}

void write_probe(xml::node out, const msg::probe_spec& x) {
  out.attr("kind", x.kind);
  if (x.port != 0) {
    out.attr("port", std::to_string(x.port));
  }
  if (x.kind == "http") {
    out.attr("path", x.path)
      .attr("status",
            std::to_string(x.status_min) + "-" + std::to_string(x.status_max));
    if (!x.body.empty()) {
      out.attr("body", x.body);
    }
  }
  if (x.kind == "command") {
    out.attr("command", x.command);
  }
  out.attr("interval", format_exact_duration(x.interval))
    .attr("timeout", format_exact_duration(x.timeout))
    .attr("failures", std::to_string(x.failures))
    .attr("initial-delay", format_exact_duration(x.initial_delay));
}

void write_resource_body(xml::node& out, const msg::resource_spec& x) {
  out.attr("class", x.resource_class)
    .attr("type", x.type)
    .attr("monitor-interval", format_exact_duration(x.monitor_interval))
    .attr("monitor-timeout", format_exact_duration(x.monitor_timeout));
  for (auto& [key, value] : x.parameters) {
    out.child("parameter").attr("name", key).attr("value", value);
  }
  for (auto& p : x.ports) {
    auto port = out.child("port");
    port.attr("name", p.name)
      .attr("protocol", p.protocol)
      .attr("guest", std::to_string(p.guest_port));
    if (p.host_port != 0) {
      port.attr("host", std::to_string(p.host_port));
    }
  }
  if (!x.probe.kind.empty()) {
    write_probe(out.child("probe"), x.probe);
  }
}

// The schema has checked the syntax of every value read below, so these
// conversions cannot fail on a validated document.

caf::timespan duration_attr(const xml::node& n, const std::string& name,
                            caf::timespan fallback) {
  auto text = n.attribute(name);
  if (text.empty()) {
    return fallback;
  }
  return msg::parse_duration(text).value_or(fallback);
}

uint32_t count_attr(const xml::node& n, const std::string& name,
                    uint32_t fallback) {
  auto text = n.attribute(name);
  if (text.empty()) {
    return fallback;
  }
  auto value = std::stoull(text);
  return value > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(value);
}

msg::escalation_policy read_escalation(const xml::node& n) {
  msg::escalation_policy x;
  x.max_failures = count_attr(n, "max-failures", 0);
  x.window = duration_attr(n, "window", {});
  x.backoff_initial = duration_attr(n, "backoff-initial", {});
  x.backoff_max = duration_attr(n, "backoff-max", {});
  x.backoff_reset = duration_attr(n, "backoff-reset", {});
  return x;
}

result<void> read_resource_body(const xml::node& n, msg::resource_spec& x,
                                const std::string& origin) {
  x.resource_class = n.attribute("class");
  x.type = n.attribute("type");
  x.monitor_interval = duration_attr(n, "monitor-interval", x.monitor_interval);
  x.monitor_timeout = duration_attr(n, "monitor-timeout", x.monitor_timeout);
  for (auto& p : n.find_all("parameter")) {
    auto key = p.attribute("name");
    if (!x.parameters.emplace(key, p.attribute("value")).second) {
      return fail(origin + ": line " + std::to_string(p.line())
                  + ": parameter '" + key + "' given twice");
    }
  }
  for (auto& p : n.find_all("port")) {
    msg::service_port port;
    port.name = p.attribute("name");
    if (auto proto = p.attribute("protocol"); !proto.empty()) {
      port.protocol = proto;
    }
    port.guest_port = static_cast<uint16_t>(count_attr(p, "guest", 0));
    port.host_port = static_cast<uint16_t>(count_attr(p, "host", 0));
    for (auto& q : x.ports) {
      if (q.name == port.name
          || (q.guest_port == port.guest_port && q.protocol == port.protocol)) {
        return fail(origin + ": line " + std::to_string(p.line()) + ": port '"
                    + port.name + "' (" + std::to_string(port.guest_port) + "/"
                    + port.protocol + ") given twice");
      }
    }
    x.ports.push_back(std::move(port));
  }
  for (auto& p : n.find_all("probe")) {
    // The shell's own checks: a file says no more than pcloudsh may.
    msg::probe_spec probe;
    auto err = msg::set_probe_setting(probe, "kind", p.attribute("kind"));
    for (auto [attr, setting] : {std::pair{"port", "port"},
                                 {"path", "path"},
                                 {"status", "status"},
                                 {"body", "body"},
                                 {"command", "command"},
                                 {"interval", "interval"},
                                 {"timeout", "timeout"},
                                 {"failures", "failures"},
                                 {"initial-delay", "initial_delay"}}) {
      // A command belongs to a command probe only (setting one makes one).
      bool foreign = std::string{attr} == "command" && probe.kind != "command";
      if (!err && !foreign && p.has_attribute(attr)) {
        err = msg::set_probe_setting(probe, setting, p.attribute(attr));
      }
    }
    if (!err) {
      err = msg::check_probe(probe);
    }
    if (err) {
      return fail(origin + ": line " + std::to_string(p.line()) + ": "
                  + err.message);
    }
    x.probe = std::move(probe);
  }
  return {};
}

result<xml::document> parse_checked(const std::string& text,
                                    const std::string& origin,
                                    const xml::schema& schema,
                                    const std::string& root) {
  auto doc = xml::document::parse(text, origin);
  if (!doc) {
    return fail(doc.error());
  }
  if (auto ok = schema.validate(*doc, origin); !ok) {
    return fail(ok.error());
  }
  if (doc->root().name() != root) {
    return fail(origin + ": line " + std::to_string(doc->root().line())
                + ": expected <" + root + ">, found <" + doc->root().name()
                + ">");
  }
  return doc;
}

} // namespace

std::string to_xml(const msg::assembly_spec& x) {
  xml::document doc{"assembly"};
  auto root = doc.root();
  root.attr("name", x.name)
    .attr("uuid", x.uuid)
    .attr("jeos", x.jeos)
    .attr("memory-mib", std::to_string(x.memory_mib))
    .attr("vcpus", std::to_string(x.vcpus))
    .attr("boot-timeout", format_exact_duration(x.boot_timeout))
    .attr("stop-timeout", format_exact_duration(x.stop_timeout));
  if (!x.network.empty()) {
    root.attr("network", x.network);
  }
  if (!x.agent_transport.empty()) {
    root.attr("agent-transport", x.agent_transport);
  }
  if (x.escalation) {
    write_escalation(root, "escalation", *x.escalation);
  }
  for (auto& r : x.resources) {
    auto out = root.child("resource");
    out.attr("name", r.name);
    write_resource_body(out, r);
    if (r.escalation) {
      write_escalation(out, "escalation", *r.escalation);
    }
  }
  return doc.to_string();
}

std::string to_xml(const msg::deployable_definition& x) {
  xml::document doc{"deployable"};
  auto root = doc.root();
  root.attr("name", x.name)
    .attr("policy", msg::to_string(x.policy))
    .attr("max-restarts", std::to_string(x.max_restarts))
    .attr("restart-window", format_exact_duration(x.restart_window))
    .attr("running", x.running ? "true" : "false");
  write_escalation(root, "assembly-escalation", x.assembly_escalation);
  write_escalation(root, "resource-escalation", x.resource_escalation);
  for (auto& name : x.assemblies) {
    root.child("assembly").attr("name", name);
  }
  return doc.to_string();
}

result<msg::assembly_spec> assembly_from_xml(const std::string& text,
                                             const std::string& origin,
                                             const xml::schema& schema) {
  auto doc = parse_checked(text, origin, schema, "assembly");
  if (!doc) {
    return fail(doc.error());
  }
  auto root = doc->root();
  msg::assembly_spec x;
  x.name = root.attribute("name");
  x.uuid = root.attribute("uuid");
  x.jeos = root.attribute("jeos");
  x.memory_mib = count_attr(root, "memory-mib", x.memory_mib);
  x.vcpus = count_attr(root, "vcpus", x.vcpus);
  x.boot_timeout = duration_attr(root, "boot-timeout", x.boot_timeout);
  x.stop_timeout = duration_attr(root, "stop-timeout", x.stop_timeout);
  x.network = root.attribute("network");
  x.agent_transport = root.attribute("agent-transport");
  if (auto esc = root.find("escalation")) {
    x.escalation = read_escalation(*esc);
  }
  std::set<std::string> seen;
  for (auto& n : root.find_all("resource")) {
    msg::resource_spec r;
    r.name = n.attribute("name");
    if (!seen.insert(r.name).second) {
      return fail(origin + ": line " + std::to_string(n.line()) + ": resource '"
                  + r.name + "' defined twice");
    }
    if (auto ok = read_resource_body(n, r, origin); !ok) {
      return fail(ok.error());
    }
    if (auto esc = n.find("escalation")) {
      r.escalation = read_escalation(*esc);
    }
    x.resources.push_back(std::move(r));
  }
  return x;
}

result<msg::deployable_definition>
deployable_from_xml(const std::string& text, const std::string& origin,
                    const xml::schema& schema) {
  auto doc = parse_checked(text, origin, schema, "deployable");
  if (!doc) {
    return fail(doc.error());
  }
  auto root = doc->root();
  msg::deployable_definition x;
  x.name = root.attribute("name");
  x.policy = msg::parse_deployable_policy(root.attribute("policy"))
               .value_or(msg::deployable_policy::restart_all);
  x.max_restarts = count_attr(root, "max-restarts", x.max_restarts);
  x.restart_window = duration_attr(root, "restart-window", x.restart_window);
  auto running = root.attribute("running");
  x.running = running == "true" || running == "1";
  x.assembly_escalation = read_escalation(*root.find("assembly-escalation"));
  x.resource_escalation = read_escalation(*root.find("resource-escalation"));
  std::set<std::string> seen;
  for (auto& n : root.find_all("assembly")) {
    auto name = n.attribute("name");
    if (!seen.insert(name).second) {
      return fail(origin + ": line " + std::to_string(n.line()) + ": assembly '"
                  + name + "' listed twice");
    }
    x.assemblies.push_back(std::move(name));
  }
  return x;
}

result<msg::resource_template> template_from_xml(const std::string& text,
                                                 const std::string& origin,
                                                 const xml::schema& schema) {
  auto doc = parse_checked(text, origin, schema, "template");
  if (!doc) {
    return fail(doc.error());
  }
  auto root = doc->root();
  msg::resource_template x;
  x.name = root.attribute("name");
  x.description = root.attribute("description");
  for (auto& n : root.find_all("variant")) {
    msg::resource_spec r;
    if (auto ok = read_resource_body(n, r, origin); !ok) {
      return fail(ok.error());
    }
    auto jeos = n.attribute("jeos");
    if (!x.variants.emplace(jeos, std::move(r)).second) {
      return fail(origin + ": line " + std::to_string(n.line())
                  + ": a second variant for JEOS '" + jeos + "'");
    }
  }
  return x;
}

} // namespace pcloud::runtime
