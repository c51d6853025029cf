#include "fakes.hpp"

#include <algorithm>

namespace pcloud::test {

deterministic_config::deterministic_config() {
  set("scheduler.policy", caf::atom("testing"));
  set("logger.verbosity", caf::atom("quiet"));
  msg::add_message_types(*this);
}

size_t hypervisor_script::count(const std::string& call) const {
  return static_cast<size_t>(std::count(calls.begin(), calls.end(), call));
}

size_t gateway_script::count(const std::string& call) const {
  return static_cast<size_t>(std::count(calls.begin(), calls.end(), call));
}

namespace {

msg::hypervisor_actor::behavior_type
fake_hypervisor(msg::hypervisor_actor::pointer self,
                std::shared_ptr<hypervisor_script> script) {
  auto domain_gone = [=](const std::string& name, const char* kind) {
    script->calls.push_back(std::string{kind} + " " + name);
    auto& inc = script->incarnations[name];
    if (inc != 0 && script->listeners.count(name) != 0) {
      // pcloud asked for it: the event is marked as requested.
      self->send(script->listeners[name],
                 msg::domain_event{name, inc, msg::domain_event_kind::stopped,
                                   kind, true});
    }
    inc = 0;
  };
  return {
    [=](msg::start_atom, msg::assembly_spec spec,
        msg::domain_listener_actor listener) -> caf::result<msg::domain_info> {
      script->calls.push_back("start " + spec.name);
      if (script->failing_starts > 0) {
        --script->failing_starts;
        return caf::make_error(caf::sec::runtime_error, "scripted failure");
      }
      auto inc = script->next_incarnation++;
      script->incarnations[spec.name] = inc;
      script->listeners[spec.name] = listener;
      auto adopted = script->running_domains.erase(spec.name) > 0;
      return msg::domain_info{spec.name, inc,
                              spec.name + "-" + std::to_string(inc),
                              "uuid-" + std::to_string(inc), adopted,
                              // As the real one: a channel unless on TCP,
                              // and then a secret (fake_agent_secret).
                              spec.agent_transport == msg::tcp_transport
                                ? ""
                                : "fake-channel:" + spec.name,
                              spec.agent_transport == msg::tcp_transport
                                ? fake_agent_secret(spec.name)
                                : ""};
    },
    [=](msg::destroy_atom, const std::string& name) {
      domain_gone(name, "destroy");
      return caf::ok_atom::value;
    },
    [=](msg::shutdown_atom, const std::string& name, caf::timespan) {
      domain_gone(name, "shutdown");
      return caf::ok_atom::value;
    },
    [=](msg::console_atom,
        const std::string& name) -> caf::result<std::string> {
      return caf::make_error(caf::sec::runtime_error,
                             "the fake VM of " + name + " has no console");
    },
    [=](msg::port_atom, const std::vector<msg::service_port>& ports) {
      std::vector<msg::service_port> free;
      for (auto& p : ports) {
        if (script->busy_ports.count(p.host_port) == 0) {
          free.push_back(p);
        }
      }
      return free;
    },
    [=](msg::network_atom) {
      std::vector<std::string> names{msg::user_network, msg::no_network};
      names.insert(names.end(), script->networks.begin(),
                   script->networks.end());
      return names;
    },
    [=](msg::lease_atom,
        const std::string& assembly) -> caf::result<std::vector<std::string>> {
      auto i = script->leases.find(assembly);
      if (i == script->leases.end()) {
        return msg::make_error(msg::errc::not_found, "no DHCP");
      }
      return i->second;
    },
    [=](msg::network_atom, const std::string& name) {
      auto i = script->subnets.find(name);
      return i == script->subnets.end() ? std::vector<std::string>{}
                                        : i->second;
    },
  };
}

msg::guest_gateway_actor::behavior_type
fake_gateway(msg::guest_gateway_actor::pointer self,
             std::shared_ptr<gateway_script> script) {
  return {
    [=](msg::attach_atom, msg::domain_info domain,
        std::vector<msg::resource_spec> resources,
        msg::guest_listener_actor listener) {
      script->calls.push_back("attach " + domain.assembly + "#"
                              + std::to_string(domain.incarnation));
      auto name = domain.assembly;
      if (!script->keep_resources) {
        resources.clear();
      }
      script->links[name] = {domain, listener, std::move(resources), true};
      if (script->auto_hello) {
        self->send(listener, msg::agent_hello{
                               domain.assembly,
                               domain.incarnation,
                               msg::guest_protocol_version,
                               "fake",
                               "boot-" + std::to_string(domain.incarnation),
                               {}});
      }
    },
    [=](msg::detach_atom, const std::string& assembly) {
      script->calls.push_back("detach " + assembly);
      auto i = script->links.find(assembly);
      if (i != script->links.end()) {
        i->second.attached = false;
      }
    },
    [=](const msg::resource_command& cmd) {
      script->calls.push_back(msg::to_string(cmd.operation) + " " + cmd.assembly
                              + "/" + cmd.resource);
      auto i = script->links.find(cmd.assembly);
      if (i == script->links.end() || !i->second.attached
          || !script->auto_running) {
        return;
      }
      if (cmd.operation == msg::resource_operation::start
          || cmd.operation == msg::resource_operation::restart) {
        self->send(i->second.listener,
                   msg::resource_report{
                     cmd.assembly, i->second.domain.incarnation, cmd.resource,
                     msg::resource_condition::running, ""});
      }
    },
  };
}

msg::service_prober_actor::behavior_type
fake_prober(msg::service_prober_actor::pointer self,
            std::shared_ptr<prober_script> script) {
  return {
    [=](const msg::reach_check& x, msg::reach_listener_actor listener) {
      auto host = x.address.find(':') == std::string::npos
                    ? x.address
                    : "[" + x.address + "]";
      script->calls.push_back((x.probe.kind == "http" ? "http " : "tcp ") + host
                              + ":" + std::to_string(x.port)
                              + (x.probe.kind == "http" ? x.probe.path : "")
                              + (x.forwarded ? " (forwarded)" : ""));
      if (!script->silent) {
        self->send(listener,
                   msg::reach_result{x.id, script->reachable,
                                     script->reachable ? "connected"
                                                       : "connection refused"});
      }
    },
  };
}

msg::event_listener_actor::behavior_type
event_recorder(msg::event_listener_actor::pointer,
               std::shared_ptr<std::vector<msg::event>> sink) {
  return {
    [=](const msg::event& ev) { sink->push_back(ev); },
  };
}

} // namespace

msg::hypervisor_actor
spawn_fake_hypervisor(caf::actor_system& sys,
                      std::shared_ptr<hypervisor_script> script) {
  return sys.spawn(fake_hypervisor, std::move(script));
}

msg::guest_gateway_actor
spawn_fake_gateway(caf::actor_system& sys,
                   std::shared_ptr<gateway_script> script) {
  return sys.spawn(fake_gateway, std::move(script));
}

msg::service_prober_actor
spawn_fake_prober(caf::actor_system& sys,
                  std::shared_ptr<prober_script> script) {
  return sys.spawn(fake_prober, std::move(script));
}

msg::event_listener_actor
spawn_event_recorder(caf::actor_system& sys,
                     std::shared_ptr<std::vector<msg::event>> sink) {
  return sys.spawn(event_recorder, std::move(sink));
}

msg::resource_spec make_resource(std::string name) {
  msg::resource_spec result;
  result.name = std::move(name);
  result.resource_class = "exec";
  result.type = "/bin/httpd -f";
  return result;
}

msg::assembly_spec make_assembly(std::string name,
                                 std::vector<std::string> resources) {
  msg::assembly_spec result;
  result.name = name;
  result.uuid = "uuid-of-" + name;
  result.jeos = "tiny";
  for (auto& r : resources) {
    result.resources.push_back(make_resource(r));
  }
  return result;
}

} // namespace pcloud::test
