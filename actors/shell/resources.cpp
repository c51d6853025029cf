// The shell service's resource commands: add resources to an assembly from
// templates, remove and list them, and forward their ports from the host.
#include "actors/shell/handlers.hpp"

#include <algorithm>

#include <caf/all.hpp>

namespace pcloud::actors::shell {

namespace {

using msg::errc;

/// The host port of `draft`'s resource `name` serving `guest`.
uint16_t host_port_of(const msg::assembly_spec& draft, const std::string& name,
                      const msg::service_port& guest) {
  for (auto& r : draft.resources) {
    for (auto& q : r.ports) {
      if (r.name == name && q.guest_port == guest.guest_port
          && q.protocol == guest.protocol) {
        return q.host_port;
      }
    }
  }
  return 0;
}

/// in_use if another port of `draft` than `port` holds host port `key`.
msg::error check_own_holder(const msg::assembly_spec& draft,
                            const msg::service_port* port,
                            const std::string& key) {
  for (auto& q : draft.resources) {
    for (auto& o : q.ports) {
      if (&o != port && o.host_port != 0
          && port_key(o.protocol, o.host_port) == key) {
        return {errc::in_use, "host port " + key + " is taken by " + draft.name
                                + "/" + q.name + " (" + o.name + ")"};
      }
    }
  }
  return {};
}

} // namespace

reply assembly_resource_add(self_ptr self, args a) {
  const auto& [name, template_name, assembly] = std::tie(a[0], a[1], a[2]);
  auto& defs = self->state.defs;
  msg::error err;
  auto* x = find_assembly(defs, assembly, err);
  if (x == nullptr) {
    return failed(err);
  }
  if (auto bad = check_new_name("resource", name)) {
    return failed(bad);
  }
  for (auto& r : x->resources) {
    if (r.name == name) {
      return failed(
        {errc::exists,
         "assembly '" + assembly + "' has a resource '" + name + "' already"});
    }
  }
  if (x->resources.size() >= msg::max_resources_per_assembly) {
    return failed({errc::invalid_argument,
                   "assembly '" + assembly + "' has "
                     + std::to_string(x->resources.size())
                     + " resources, the most one assembly can have"});
  }
  if (auto bad = check_not_running(defs, assembly)) {
    return failed(bad);
  }
  auto t = std::find_if(defs.templates.begin(), defs.templates.end(),
                        [&](auto& y) { return y.name == template_name; });
  if (t == defs.templates.end()) {
    std::vector<std::string> names;
    for (auto& y : defs.templates) {
      names.push_back(y.name);
    }
    return failed({errc::not_found, "no template named '" + template_name
                                      + "' (templates: " + join(names) + ")"});
  }
  auto v = t->variants.find(x->jeos);
  if (v == t->variants.end()) {
    std::vector<std::string> jeos;
    for (auto& [j, spec] : t->variants) {
      jeos.push_back(j);
    }
    return failed({errc::invalid_argument,
                   "template '" + template_name + "' cannot run on JEOS '"
                     + x->jeos + "' (it has variants for " + join(jeos) + ")"});
  }
  auto res = v->second;
  res.name = name;
  auto draft = *x;
  draft.resources.push_back(res);
  auto rp = self->make_response_promise<msg::shell_reply>();
  allocate_ports(self, std::move(draft),
                 [self, rp, name, template_name, assembly,
                  base = *x](msg::error err, msg::assembly_spec draft) mutable {
                   if (err) {
                     rp.deliver(failed(err));
                     return;
                   }
                   auto& res = draft.resources.back();
                   auto message = "resource " + name + " (" + template_name
                                  + ": " + res.resource_class + " " + res.type
                                  + ") added to " + assembly;
                   if (auto where = endpoints_of(self->state.defs, draft, res);
                       !where.empty()) {
                     message += "; " + where;
                   }
                   save_draft(self, rp, base, std::move(draft),
                              std::move(message));
                 });
  return rp;
}

reply assembly_resource_remove(self_ptr self, args a) {
  return edit_assembly(
    self, a[1], [self, a](msg::assembly_spec& x, std::string& message) {
      auto& rs = x.resources;
      auto i = std::find_if(rs.begin(), rs.end(),
                            [&](auto& r) { return r.name == a[0]; });
      if (i == rs.end()) {
        return msg::error{errc::not_found, "assembly '" + a[1]
                                             + "' has no resource '" + a[0]
                                             + "'"};
      }
      if (auto bad = check_not_running(self->state.defs, a[1])) {
        return bad;
      }
      rs.erase(i);
      message = "resource " + a[0] + " removed from " + a[1];
      return msg::error{};
    });
}

reply assembly_resource_list(self_ptr self, args a) {
  msg::error err;
  auto* x = find_assembly(self->state.defs, a[0], err);
  if (x == nullptr) {
    return failed(err);
  }
  auto r = table({"name", "class", "type", "monitor", "ports", "probe"});
  for (auto& res : x->resources) {
    r.rows.push_back({res.name, res.resource_class, res.type,
                      "every " + msg::format_duration(res.monitor_interval),
                      endpoints_of(self->state.defs, *x, res),
                      msg::describe_probe(res.probe)});
  }
  return r;
}

reply assembly_probe_set(self_ptr self, args a) {
  return edit_assembly(
    self, a[0], [self, a](msg::assembly_spec& x, std::string& message) {
      msg::error err;
      auto* res = find_resource(x, a[1], err);
      if (res == nullptr) {
        return err;
      }
      if (auto bad = check_not_running(self->state.defs, x.name)) {
        return bad;
      }
      auto probe = res->probe;
      if (auto bad = msg::set_probe_setting(probe, a[2], a[3])) {
        return bad;
      }
      if (probe.port == 0 && (probe.kind == "tcp" || probe.kind == "http")) {
        // The port the service declares, when it has one over TCP.
        for (auto& p : res->ports) {
          if (p.protocol == "tcp") {
            probe.port = p.guest_port;
            break;
          }
        }
      }
      if (auto bad = msg::check_probe(probe)) {
        return bad;
      }
      res->probe = probe;
      message = "probe of " + x.name + "/" + res->name + ": "
                + msg::describe_probe(probe);
      return msg::error{};
    });
}

reply assembly_port_set(self_ptr self, args a) {
  auto& defs = self->state.defs;
  msg::error err;
  auto* x = find_assembly(defs, a[0], err);
  if (x == nullptr) {
    return failed(err);
  }
  auto draft = *x;
  auto* r = find_resource(draft, a[1], err);
  if (r == nullptr) {
    return failed(err);
  }
  msg::service_port wanted;
  if (auto bad
      = parse_port(a[2], "PORT", wanted.guest_port, &wanted.protocol)) {
    return failed(bad);
  }
  if (a.size() > 3) {
    if (auto bad = parse_port(a[3], "HOST_PORT", wanted.host_port, nullptr)) {
      return failed(bad);
    }
    if (wanted.host_port < 1024) {
      return failed({errc::invalid_argument,
                     "HOST_PORT " + a[3]
                       + " is privileged: QEMU runs as an unprivileged user "
                         "and cannot listen there (use 1024-65535)"});
    }
  }
  if (auto bad = check_not_running(defs, a[0])) {
    return failed(bad);
  }
  auto& ports = r->ports;
  auto p = std::find_if(ports.begin(), ports.end(), [&](auto& q) {
    return q.guest_port == wanted.guest_port && q.protocol == wanted.protocol;
  });
  if (p == ports.end()) {
    wanted.name = "port" + std::to_string(wanted.guest_port);
    ports.push_back(wanted);
    p = ports.end() - 1;
  }
  p->host_port = wanted.host_port;
  auto what = r->name + " " + port_key(p->protocol, p->guest_port);
  if (wanted.host_port == 0) {
    // Allocate afresh: the old host port is free for the others again.
    auto rp = self->make_response_promise<msg::shell_reply>();
    auto guest = *p;
    allocate_ports(
      self, std::move(draft),
      [self, rp, what, name = a[1], guest,
       base = *x](msg::error err, msg::assembly_spec draft) mutable {
        if (err) {
          rp.deliver(failed(err));
          return;
        }
        auto host = host_port_of(draft, name, guest);
        save_draft(self, rp, base, std::move(draft),
                   what + " forwarded from host port " + std::to_string(host));
      });
    return rp;
  }
  auto key = port_key(p->protocol, p->host_port);
  if (auto holder = holder_of(defs, key, a[0]); !holder.empty()) {
    return failed(
      {errc::in_use, "host port " + key + " is taken by " + holder});
  }
  if (auto bad = check_own_holder(draft, &*p, key)) {
    return failed(bad);
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.hypervisor, status_timeout,
              msg::port_atom::value, std::vector<msg::service_port>{*p})
    .then(
      [self, rp, base = *x, draft, key,
       what](const std::vector<msg::service_port>& free) mutable {
        if (free.empty()) {
          rp.deliver(
            failed({errc::in_use, "host port " + key + " is in use on "
                                    + self->state.defs.network.forward_address
                                    + " by another program"}));
          return;
        }
        if (auto holder = holder_of(self->state.defs, key, draft.name);
            !holder.empty()) {
          rp.deliver(failed(
            {errc::in_use, "host port " + key + " is taken by " + holder}));
          return;
        }
        save_draft(self, rp, base, std::move(draft),
                   what + " forwarded from host port " + key);
      },
      [rp](const caf::error& err) mutable {
        rp.deliver(failed(err, "cannot check host ports: "));
      });
  return rp;
}

reply assembly_port_remove(self_ptr self, args a) {
  return edit_assembly(
    self, a[0], [self, a](msg::assembly_spec& x, std::string& message) {
      msg::error err;
      auto* r = find_resource(x, a[1], err);
      if (r == nullptr) {
        return err;
      }
      msg::service_port wanted;
      if (auto bad
          = parse_port(a[2], "PORT", wanted.guest_port, &wanted.protocol)) {
        return bad;
      }
      if (auto bad = check_not_running(self->state.defs, a[0])) {
        return bad;
      }
      auto& ports = r->ports;
      auto p = std::find_if(ports.begin(), ports.end(), [&](auto& q) {
        return q.guest_port == wanted.guest_port
               && q.protocol == wanted.protocol;
      });
      if (p == ports.end()) {
        return msg::error{errc::not_found,
                          "resource " + a[1] + " of " + a[0] + " has no port "
                            + port_key(wanted.protocol, wanted.guest_port)};
      }
      ports.erase(p);
      message = "port " + port_key(wanted.protocol, wanted.guest_port) + " of "
                + a[1] + " no longer forwarded";
      return msg::error{};
    });
}

reply template_list(self_ptr self, args) {
  return template_rows(self->state.defs);
}

} // namespace pcloud::actors::shell
