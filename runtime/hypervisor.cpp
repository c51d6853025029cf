// runtime/hypervisor.cpp -- assemblies' domains through libvirt: the
// hypervisor actor's requests (start or adopt, destroy, shut down, console)
// and its behaviour. What it hears from libvirt and qemu, and the reconnect,
// are in hypervisor_events.cpp; the host checks in qemu_host.cpp; what a
// domain looks like in domain_plan.cpp.
#include "runtime/hypervisor.hpp"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/agent_secret.hpp"
#include "runtime/console_log.hpp"
#include "runtime/domain_plan.hpp"
#include "runtime/hypervisor_state.hpp"
#include "runtime/qemu_host.hpp"
#include "runtime/virt/domain_xml.hpp"
#include "runtime/xml/document.hpp"

namespace pcloud::runtime {

namespace detail {

namespace {

/// Keeps a console log within its cap (console_log.hpp); a failure is
/// logged, never a reason not to run the VM.
void cap_console(const hypervisor_options& opts, const std::string& assembly) {
  auto path = console_log_path(opts, assembly);
  auto rotated = cap_console_log(path, opts.console_log_max);
  if (!rotated) {
    spdlog::warn("hypervisor: {}", rotated.error());
  } else if (*rotated) {
    spdlog::info("hypervisor: {}: console log over {} bytes, moved to {}.1",
                 assembly, opts.console_log_max, path);
  }
}

std::string new_uuid() {
  std::ifstream in{"/proc/sys/kernel/random/uuid"};
  std::string result;
  in >> result;
  return result;
}

caf::error make_failure(msg::errc code, const std::string& text) {
  return msg::make_error(code, text);
}

caf::error make_failure(const failure& err) {
  return msg::make_error(err);
}

/// Adopts a running domain of `spec` if there is one; an error if the name
/// is taken by a domain that is not this assembly's.
caf::result<msg::domain_info> try_adopt(self_ptr self,
                                        const msg::assembly_spec& spec,
                                        const msg::domain_listener_actor& l,
                                        virt::domain& dom) {
  auto meta_xml = dom.metadata(virt::metadata_namespace);
  auto meta = meta_xml
                ? virt::parse_metadata(*meta_xml)
                : result<virt::domain_metadata>{meta_xml.failure_value()};
  if (!meta || meta->assembly_uuid != spec.uuid) {
    return make_failure(msg::errc::exists,
                        "domain " + dom.name() + " exists and is not assembly "
                          + spec.name + "'s"
                          + (meta ? "" : " (" + meta.error() + ")"));
  }
  auto& st = self->state;
  auto& t = st.assemblies[spec.name];
  t = tracked{};
  t.listener = l;
  t.incarnation = meta->incarnation;
  t.domain_uuid = dom.uuid();
  st.by_uuid[t.domain_uuid] = spec.name;
  watch_qemu(self, spec.name, t, dom.name());
  spdlog::info("hypervisor: adopted {} (incarnation {})", dom.name(),
               t.incarnation);
  std::string secret;
  if (spec.agent_transport == msg::tcp_transport) {
    // What this incarnation was started with: its boot settings stay until
    // the next start.
    std::ifstream in{boot_settings_path(st.opts, spec.name)};
    std::string word;
    while (in >> word) {
      if (word.rfind("pcloud.secret=", 0) == 0) {
        secret = word.substr(14);
      }
    }
  }
  return msg::domain_info{spec.name,  t.incarnation,
                          dom.name(), t.domain_uuid,
                          true,       channel_path(st.opts, spec),
                          secret};
}

caf::result<msg::domain_info> start(self_ptr self, msg::assembly_spec spec,
                                    msg::domain_listener_actor listener) {
  auto& st = self->state;
  auto name = virt::domain_name_for(spec.name);
  auto existing = st.conn->lookup(name);
  if (!existing) {
    return make_failure(existing.failure_value());
  }
  if (existing->has_value() && (*existing)->is_active()) {
    return try_adopt(self, spec, listener, **existing);
  }
  auto tcp = spec.agent_transport == msg::tcp_transport;
  if (tcp && st.opts.agent_port == 0) {
    return make_failure(msg::errc::wrong_state,
                        "assembly " + spec.name
                          + " uses the tcp transport, and pcloudd has no agent "
                            "listener (--agent-listen)");
  }
  auto image = st.opts.images(spec);
  if (!image) {
    return make_failure(image.failure_value());
  }
  auto& t = st.assemblies[spec.name];
  if (t.qemu_pid != 0) {
    st.watcher->forget(t.qemu_pid);
  }
  ::mkdir(st.opts.state_dir.c_str(), 0755);
  ensure_qemu_dir(st.opts.state_dir + "/run");
  ensure_qemu_dir(st.opts.state_dir + "/log");
  cap_console(st.opts, spec.name);
  auto cfg = plan_domain(
    st.opts, spec, *image,
    {new_uuid(), t.incarnation + 1, tcp ? random_secret() : std::string{}});
  if (!cfg.boot_settings_file.empty()) {
    if (auto ok
        = write_for_qemu(cfg.boot_settings_file, virt::boot_settings(cfg));
        !ok) {
      return make_failure(ok.failure_value());
    }
  }
  auto xml = virt::domain_xml(cfg);
  auto deadline = std::chrono::steady_clock::now() + st.opts.start_retry;
  auto dom = st.conn->create(xml);
  // libvirt refuses the name until it has cleaned up the previous
  // incarnation: retry briefly rather than fail the restart. Whatever the
  // failure, the start is tried again while a domain of that name is still
  // there (libvirt's "already exists" is a generic "operation failed").
  auto name_taken = [&] {
    auto old = st.conn->lookup(name);
    return old && old->has_value();
  };
  while (!dom && std::chrono::steady_clock::now() < deadline && name_taken()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    dom = st.conn->create(xml);
  }
  if (!dom) {
    // A qemu that daemonized and then failed is ours to reap (subreaper).
    pid_watcher::reap_zombies("qemu-system");
    return make_failure(dom.failure_value());
  }
  t = tracked{};
  t.listener = std::move(listener);
  t.incarnation = cfg.metadata.incarnation;
  t.domain_uuid = cfg.uuid;
  st.by_uuid[cfg.uuid] = spec.name;
  watch_qemu(self, spec.name, t, name);
  spdlog::info("hypervisor: started {} (incarnation {})", name, t.incarnation);
  return msg::domain_info{spec.name,       t.incarnation, name,
                          cfg.uuid,        false,         cfg.channel_socket,
                          cfg.agent_secret};
}

caf::result<caf::ok_atom> destroy(self_ptr self, const std::string& assembly) {
  auto& st = self->state;
  auto i = st.assemblies.find(assembly);
  if (i != st.assemblies.end()) {
    i->second.expecting_death = true;
  }
  auto dom = st.conn->lookup(virt::domain_name_for(assembly));
  if (!dom) {
    return make_failure(dom.failure_value());
  }
  if (!dom->has_value() || !(*dom)->is_active()) {
    return caf::ok_atom::value;
  }
  if (auto res = (*dom)->destroy();
      !res && res.code() != msg::errc::not_found) {
    // It may have died on its own meanwhile; only a domain still running
    // is a failure to destroy.
    if ((*dom)->is_active()) {
      return make_failure(res.failure_value());
    }
  }
  return caf::ok_atom::value;
}

template <class T>
void deliver(caf::typed_response_promise<T>& rp, caf::result<T> res) {
  if (res.flag == caf::rt_value) {
    rp.deliver(res.value.template get_as<T>(0));
  } else {
    rp.deliver(res.err);
  }
}

/// A graceful shutdown, forced off after `timeout`; answers into `rp` once
/// the domain is gone.
void shutdown(self_ptr self, const std::string& assembly, caf::timespan timeout,
              caf::typed_response_promise<caf::ok_atom> rp) {
  auto& st = self->state;
  auto dom = st.conn->lookup(virt::domain_name_for(assembly));
  if (!dom) {
    rp.deliver(make_failure(dom.failure_value()));
    return;
  }
  auto i = st.assemblies.find(assembly);
  if (!dom->has_value() || !(*dom)->is_active() || i == st.assemblies.end()
      || i->second.death_reported) {
    deliver(rp, destroy(self, assembly));
    return;
  }
  auto& t = i->second;
  t.expecting_death = true;
  if (auto res = (*dom)->shutdown(); !res) {
    spdlog::warn("hypervisor: {}: {}; forcing it off", assembly, res.error());
    deliver(rp, destroy(self, assembly));
    return;
  }
  t.shutdown = rp;
  self->delayed_send(self, timeout, shutdown_deadline{assembly, t.incarnation});
}

/// The live XML of the running VM of `assembly`.
result<xml::document> live_definition(self_ptr self,
                                      const std::string& assembly) {
  auto dom = self->state.conn->lookup(virt::domain_name_for(assembly));
  if (!dom) {
    return dom.failure_value();
  }
  if (!dom->has_value() || !(*dom)->is_active()) {
    return failure{msg::errc::wrong_state,
                   "assembly " + assembly + " has no running VM"};
  }
  auto text = (*dom)->xml_desc();
  if (!text) {
    return text.failure_value();
  }
  return xml::document::parse(*text, "live XML of " + assembly);
}

/// The pty of a running assembly's serial console, from the live XML.
caf::result<std::string> console_path(self_ptr self,
                                      const std::string& assembly) {
  auto doc = live_definition(self, assembly);
  if (!doc) {
    return make_failure(doc.failure_value());
  }
  if (auto devices = doc->root().find("devices")) {
    if (auto console = devices->find("console");
        console && !console->attribute("tty").empty()) {
      return console->attribute("tty");
    }
    if (auto serial = devices->find("serial")) {
      if (auto source = serial->find("source");
          source && !source->attribute("path").empty()) {
        return source->attribute("path");
      }
    }
  }
  return make_failure(msg::errc::unavailable,
                      "assembly " + assembly + " has no console pty");
}

/// What libvirt's DHCP server leased to the NIC of `assembly`'s VM: the
/// only addresses of a guest on a libvirt network that the guest cannot
/// make up.
caf::result<std::vector<std::string>> leases_of(self_ptr self,
                                                const std::string& assembly) {
  auto doc = live_definition(self, assembly);
  if (!doc) {
    return make_failure(doc.failure_value());
  }
  if (auto devices = doc->root().find("devices")) {
    for (auto& nic : devices->find_all("interface")) {
      auto source = nic.find("source");
      auto mac = nic.find("mac");
      if (nic.attribute("type") == "network" && source && mac) {
        auto leases = self->state.conn->dhcp_leases(
          source->attribute("network"), mac->attribute("address"));
        if (!leases) {
          return make_failure(leases.failure_value());
        }
        return std::move(*leases);
      }
    }
  }
  return make_failure(msg::errc::not_found,
                      "assembly " + assembly + " has no libvirt network");
}

} // namespace

} // namespace detail

result<msg::hypervisor_actor> spawn_hypervisor(caf::actor_system& sys,
                                               hypervisor_options opts) {
  using namespace detail;
  if (auto root = embed_root_of(opts.uri); !root.empty()) {
    if (auto res = prepare_embed_root(root); !res) {
      return fail(res.error());
    }
  }
  auto conn = virt::connection::open(opts.uri);
  if (!conn) {
    return fail(conn.error());
  }
  if (!embed_root_of(opts.uri).empty()) {
    // libvirt probes QEMU with daemonized qemu processes and waits for them
    // to vanish; under a subreaper they would stay zombies that nobody
    // reaps, and every probe ran into libvirt's timeout (~80 s seen). So
    // the probe runs first, then this process becomes the reaper of the
    // guests' qemu processes (libvirt then cleans up a dead guest in
    // milliseconds instead of waiting for PID 1).
    if (auto probed = conn->probe_capabilities(opts.virt_type); !probed) {
      spdlog::warn("hypervisor: {}", probed.error());
    }
    if (auto why = kvm_unusable_by_qemu(); !why.empty()) {
      // libvirt then re-probes QEMU on every start, and those probes would
      // hang on zombies under a subreaper: be slow rather than stuck.
      spdlog::warn("hypervisor: {}; libvirt will re-probe QEMU on every "
                   "start and VM restarts wait for PID 1 to reap qemu (run "
                   "./setup, or chgrp kvm /dev/kvm && chmod 660 /dev/kvm)",
                   why);
    } else if (auto res = pid_watcher::become_subreaper(); !res) {
      return fail(res.error());
    }
  }
  auto shared = std::make_shared<virt::connection>(std::move(*conn));
  auto impl = sys.spawn<caf::detached>(
    [shared, opts](self_ptr self) mutable -> hypervisor_impl::behavior_type {
      auto& st = self->state;
      st.opts = opts;
      st.conn = std::move(shared);
      st.watcher = std::make_unique<pid_watcher>();
      register_callbacks(self);
      self->delayed_send(self, st.opts.console_check, console_log_tick{});
      return {
        [=](msg::start_atom, msg::assembly_spec spec,
            msg::domain_listener_actor listener) {
          auto rp = self->make_response_promise<msg::domain_info>();
          when_connected(self, [=]() mutable {
            deliver(rp, start(self, std::move(spec), std::move(listener)));
          });
          return rp;
        },
        [=](msg::destroy_atom, const std::string& assembly) {
          auto rp = self->make_response_promise<caf::ok_atom>();
          when_connected(
            self, [=]() mutable { deliver(rp, destroy(self, assembly)); });
          return rp;
        },
        [=](msg::shutdown_atom, const std::string& assembly,
            caf::timespan timeout) {
          auto rp = self->make_response_promise<caf::ok_atom>();
          when_connected(self, [=] { shutdown(self, assembly, timeout, rp); });
          return rp;
        },
        [=](msg::console_atom, const std::string& assembly) {
          auto rp = self->make_response_promise<std::string>();
          when_connected(
            self, [=]() mutable { deliver(rp, console_path(self, assembly)); });
          return rp;
        },
        [=](msg::port_atom, const std::vector<msg::service_port>& ports) {
          std::vector<msg::service_port> free;
          for (auto& p : ports) {
            if (port_free(self->state.opts.forward_address, p)) {
              free.push_back(p);
            }
          }
          return free;
        },
        [=](msg::network_atom) {
          auto rp = self->make_response_promise<std::vector<std::string>>();
          when_connected(self, [=]() mutable {
            std::vector<std::string> names{msg::user_network, msg::no_network};
            if (auto more = self->state.conn->network_names()) {
              names.insert(names.end(), more->begin(), more->end());
            }
            rp.deliver(std::move(names));
          });
          return rp;
        },
        [=](msg::lease_atom, const std::string& assembly) {
          auto rp = self->make_response_promise<std::vector<std::string>>();
          when_connected(
            self, [=]() mutable { deliver(rp, leases_of(self, assembly)); });
          return rp;
        },
        [=](msg::network_atom, const std::string& name) {
          auto rp = self->make_response_promise<std::vector<std::string>>();
          when_connected(self, [=]() mutable {
            auto subnets = self->state.conn->network_subnets(name);
            if (!subnets) {
              rp.deliver(make_failure(subnets.failure_value()));
              return;
            }
            rp.deliver(std::move(*subnets));
          });
          return rp;
        },
        [=](const lifecycle_note& note) {
          auto& st = self->state;
          auto a = st.by_uuid.find(note.ev.domain_uuid);
          if (a == st.by_uuid.end()) {
            return; // not ours
          }
          auto& t = st.assemblies[a->second];
          if (t.domain_uuid != note.ev.domain_uuid) {
            return; // a previous incarnation, reported late
          }
          report(self, a->second, t, note.ev.kind, note.ev.detail);
        },
        [=](const qemu_exit_note& note) {
          auto& st = self->state;
          auto i = st.assemblies.find(note.assembly);
          if (i == st.assemblies.end()
              || i->second.incarnation != note.incarnation) {
            return;
          }
          i->second.qemu_pid = 0;
          report(self, note.assembly, i->second,
                 msg::domain_event_kind::stopped, "qemu " + note.how);
        },
        [=](const shutdown_deadline& dl) {
          auto& st = self->state;
          auto i = st.assemblies.find(dl.assembly);
          if (i == st.assemblies.end()
              || i->second.incarnation != dl.incarnation
              || !i->second.shutdown) {
            return;
          }
          spdlog::info("hypervisor: {} did not shut down in time, forcing it "
                       "off",
                       dl.assembly);
          auto rp = *i->second.shutdown;
          i->second.shutdown.reset();
          if (!st.connected) {
            when_connected(
              self, [=]() mutable { deliver(rp, destroy(self, dl.assembly)); });
            return;
          }
          auto dom = st.conn->lookup(virt::domain_name_for(dl.assembly));
          if (dom && dom->has_value()) {
            if (auto res = (*dom)->destroy(); !res) {
              rp.deliver(make_failure(res.failure_value()));
              return;
            }
          }
          rp.deliver(caf::ok_atom::value);
        },
        [=](const connection_lost_note& note) {
          auto& st = self->state;
          if (!st.connected) {
            return;
          }
          // VMs keep running without libvirtd: this is no VM failure. Their
          // qemu exits are still seen through the pid watcher meanwhile.
          spdlog::warn("hypervisor: lost {}: {}; reconnecting", st.opts.uri,
                       note.why);
          st.connected = false;
          st.conn->close();
          try_reconnect(self);
        },
        [=](reconnect_tick) {
          if (!self->state.connected) {
            try_reconnect(self);
          }
        },
        [=](console_log_tick) {
          for (auto& [name, t] : self->state.assemblies) {
            cap_console(self->state.opts, name);
          }
          self->delayed_send(self, self->state.opts.console_check,
                             console_log_tick{});
        },
      };
    });
  return msg::hypervisor_actor{impl};
}

} // namespace pcloud::runtime
