// The shell service's assembly commands: create (from a built JEOS), clone,
// delete, list and change an assembly's settings and network.
#include "actors/shell/handlers.hpp"

#include <algorithm>

#include <caf/all.hpp>

namespace pcloud::actors::shell {

namespace {

using msg::errc;

msg::error exists_already(const std::string& name) {
  return {errc::exists, "assembly '" + name + "' exists already"};
}

/// The new assembly `name` on JEOS `jeos` as the image list shows it:
/// not_found unless it is there and built for `arch`.
msg::error check_jeos(const std::vector<msg::jeos_info>& images,
                      const std::string& jeos, const std::string& arch,
                      const msg::jeos_info*& found) {
  std::vector<std::string> built;
  found = nullptr;
  for (auto& x : images) {
    if (x.built) {
      built.push_back(x.name);
    }
    if (x.name == jeos) {
      found = &x;
    }
  }
  if (found == nullptr || !found->built) {
    auto what = found != nullptr
                  ? "JEOS '" + jeos + "' is not built yet (jeos_create " + jeos
                      + " " + arch + ")"
                  : "no JEOS named '" + jeos + "'";
    return {found != nullptr ? errc::wrong_state : errc::not_found,
            what + "; usable: " + (built.empty() ? "none" : join(built))};
  }
  if (found->arch != arch) {
    return {errc::invalid_argument, "JEOS '" + jeos + "' is built for "
                                      + found->arch + ", not " + arch};
  }
  return {};
}

} // namespace

reply assembly_create(self_ptr self, args a) {
  auto& defs = self->state.defs;
  if (auto bad = check_new_name("assembly", a[0])) {
    return failed(bad);
  }
  if (defs.assemblies.count(a[0]) > 0) {
    return failed(exists_already(a[0]));
  }
  if (auto bad = check_arch(a[2])) {
    return failed(bad);
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, status_timeout, caf::get_atom::value)
    .then(
      [self, rp, a](const std::vector<msg::jeos_info>& images) mutable {
        auto& defs = self->state.defs;
        const msg::jeos_info* found = nullptr;
        if (auto bad = check_jeos(images, a[1], a[2], found)) {
          rp.deliver(failed(bad));
          return;
        }
        // Checked again: another shell may have taken the name meanwhile.
        if (defs.assemblies.count(a[0]) > 0) {
          rp.deliver(failed(exists_already(a[0])));
          return;
        }
        msg::assembly_spec spec;
        spec.name = a[0];
        spec.uuid = new_uuid(self->state.random);
        spec.jeos = a[1];
        if (found->memory_mib > 0) {
          spec.memory_mib = found->memory_mib;
        }
        if (found->vcpus > 0) {
          spec.vcpus = found->vcpus;
        }
        if (found->boot_timeout_s > 0) {
          spec.boot_timeout = std::chrono::seconds(found->boot_timeout_s);
        }
        defs.assemblies[spec.name] = spec;
        persist(
          self, rp, spec,
          [self, name = a[0]] { self->state.defs.assemblies.erase(name); },
          "assembly " + a[0] + " created (JEOS " + a[1] + ", "
            + std::to_string(spec.memory_mib) + " MiB, "
            + std::to_string(spec.vcpus) + " vCPU, uuid " + spec.uuid + ")");
      },
      [rp](const caf::error& err) mutable {
        rp.deliver(failed(err, "cannot list JEOS images: "));
      });
  return rp;
}

reply assembly_clone(self_ptr self, args a) {
  auto& defs = self->state.defs;
  msg::error err;
  auto* from = find_assembly(defs, a[0], err);
  if (from == nullptr) {
    return failed(err);
  }
  if (auto bad = check_new_name("assembly", a[1])) {
    return failed(bad);
  }
  if (defs.assemblies.count(a[1]) > 0) {
    return failed(exists_already(a[1]));
  }
  auto spec = *from;
  spec.name = a[1];
  spec.uuid = new_uuid(self->state.random);
  // Its own host ports: both may serve at once.
  for (auto& r : spec.resources) {
    for (auto& p : r.ports) {
      p.host_port = 0;
    }
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  allocate_ports(
    self, std::move(spec),
    [self, rp, from = a[0]](msg::error err, msg::assembly_spec spec) mutable {
      if (err) {
        rp.deliver(failed(err));
        return;
      }
      auto& defs = self->state.defs;
      // Checked again: another shell may have taken the name.
      if (defs.assemblies.count(spec.name) > 0) {
        rp.deliver(failed(exists_already(spec.name)));
        return;
      }
      defs.assemblies[spec.name] = spec;
      auto message = "assembly " + spec.name + " cloned from " + from
                     + " (uuid " + spec.uuid + ", "
                     + std::to_string(spec.resources.size()) + " resources)";
      persist(
        self, rp, spec,
        [self, name = spec.name] { self->state.defs.assemblies.erase(name); },
        std::move(message));
    });
  return rp;
}

reply assembly_delete(self_ptr self, args a) {
  auto& defs = self->state.defs;
  msg::error err;
  auto* x = find_assembly(defs, a[0], err);
  if (x == nullptr) {
    return failed(err);
  }
  if (auto owner = owner_of(defs, a[0]); !owner.empty()) {
    return failed({errc::in_use, "assembly '" + a[0]
                                   + "' belongs to deployable '" + owner
                                   + "' (deployable_assembly_remove " + owner
                                   + " " + a[0] + " first)"});
  }
  auto before = *x;
  defs.assemblies.erase(a[0]);
  return erase(
    self, before,
    [self, before] { self->state.defs.assemblies[before.name] = before; },
    "assembly " + a[0] + " deleted");
}

reply assembly_list(self_ptr self, args) {
  // Where a guest on a libvirt network serves is its address now: asked
  // of the running deployables.
  std::vector<std::string> names;
  for (auto& [name, d] : self->state.defs.deployables) {
    if (self->state.running.count(name) > 0) {
      names.push_back(name);
    }
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  live_statuses(
    self, names,
    [self, rp](std::map<std::string, msg::deployable_status> found) mutable {
      std::map<std::string, std::vector<std::string>> addresses;
      for (auto& [name, d] : found) {
        for (auto& a : d.assemblies) {
          addresses[a.name] = {a.service_address};
        }
      }
      rp.deliver(assembly_rows(self->state.defs, addresses));
    });
  return rp;
}

reply assembly_network_set(self_ptr self, args a) {
  msg::error err;
  if (find_assembly(self->state.defs, a[0], err) == nullptr) {
    return failed(err);
  }
  if (auto bad = check_not_running(self->state.defs, a[0])) {
    return failed(bad);
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.hypervisor, status_timeout,
              msg::network_atom::value)
    .then(
      [self, rp, a](const std::vector<std::string>& names) mutable {
        if (std::find(names.begin(), names.end(), a[1]) == names.end()) {
          rp.deliver(
            failed({errc::not_found, "no network named '" + a[1]
                                       + "' (networks: " + join(names) + ")"}));
          return;
        }
        msg::error gone;
        auto* x = find_assembly(self->state.defs, a[0], gone);
        if (x == nullptr) {
          rp.deliver(failed({errc::not_found,
                             "assembly '" + a[0] + "' was deleted meanwhile"}));
          return;
        }
        auto draft = *x;
        draft.network = a[1];
        save_draft(self, rp, *x, std::move(draft),
                   "assembly " + a[0] + " on network " + a[1]
                     + (a[1] == msg::no_network ? " (no NIC)" : ""));
      },
      [rp](const caf::error& err) mutable {
        rp.deliver(failed(err, "cannot list networks: "));
      });
  return rp;
}

reply assembly_set(self_ptr self, args a) {
  return edit_assembly(
    self, a[0], [self, a](msg::assembly_spec& x, std::string& message) {
      if (auto bad = check_not_running(self->state.defs, x.name)) {
        return bad;
      }
      return apply_setting(self->state.defs, x, a[1], a[2], message);
    });
}

} // namespace pcloud::actors::shell
