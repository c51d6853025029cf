// actors/shell_service.cpp -- pcloudsh's commands, on the daemon's side.
//
// Every change is made in memory first and then persisted; the reply goes
// out only once the store has the new file on disk, and a failed write puts
// the old value back. Messages are handled one at a time, so two shells
// racing to create the same name see one success and one "exists".
#include "actors/shell_service.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace pcloud::actors {

namespace {

using self_ptr
  = msg::shell_service_actor::stateful_pointer<shell_service_state>;
using reply_promise = caf::typed_response_promise<msg::shell_reply>;
using namespace std::chrono_literals;

constexpr auto store_timeout = 30s;
constexpr auto status_timeout = 5s;
/// Building a debian12 JEOS under a slow mirror can take long.
constexpr auto build_timeout = std::chrono::minutes(60);
const std::vector<std::string> supported_archs{"x86_64"};

msg::shell_reply ok(std::string message) {
  msg::shell_reply r;
  r.message = std::move(message);
  return r;
}

msg::shell_reply error(std::string message) {
  msg::shell_reply r;
  r.ok = false;
  r.message = std::move(message);
  return r;
}

msg::shell_reply table(std::vector<std::string> columns) {
  msg::shell_reply r;
  r.columns = std::move(columns);
  return r;
}

std::string join(const std::vector<std::string>& xs,
                 const std::string& sep = ", ") {
  std::string result;
  for (auto& x : xs) {
    if (!result.empty()) {
      result += sep;
    }
    result += x;
  }
  return result;
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

std::string render(self_ptr self, const caf::error& err) {
  return describe(self->system(), err);
}

/// The deployable an assembly belongs to, or empty.
std::string owner_of(const shell_service_state& st,
                     const std::string& assembly) {
  for (auto& [name, dep] : st.deployables) {
    auto& xs = dep.assemblies;
    if (std::find(xs.begin(), xs.end(), assembly) != xs.end()) {
      return name;
    }
  }
  return {};
}

bool is_running(const shell_service_state& st, const std::string& dep) {
  auto i = st.deployables.find(dep);
  return i != st.deployables.end() && i->second.running;
}

/// Persists `value` through the store, then answers `message`; on failure
/// runs `rollback` and answers the store's error.
template <class T>
void persist(self_ptr self, reply_promise rp, T value,
             std::function<void()> rollback, std::string message) {
  self
    ->request(self->state.services.store, store_timeout, caf::put_atom::value,
              std::move(value))
    .then([rp, message](caf::ok_atom) mutable { rp.deliver(ok(message)); },
          [self, rp, rollback](const caf::error& err) mutable {
            rollback();
            rp.deliver(error("not saved: " + render(self, err)));
          });
}

template <class T>
caf::result<msg::shell_reply> persist(self_ptr self, T value,
                                      std::function<void()> rollback,
                                      std::string message) {
  auto rp = self->make_response_promise<msg::shell_reply>();
  persist(self, rp, std::move(value), std::move(rollback), std::move(message));
  return rp;
}

template <class T>
caf::result<msg::shell_reply> erase(self_ptr self, T value,
                                    std::function<void()> rollback,
                                    std::string message) {
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.store, store_timeout,
              caf::delete_atom::value, std::move(value))
    .then([rp, message](caf::ok_atom) mutable { rp.deliver(ok(message)); },
          [self, rp, rollback](const caf::error& err) mutable {
            rollback();
            rp.deliver(error("not deleted: " + render(self, err)));
          });
  return rp;
}

/// Saves a changed assembly or deployable (`table` says which); a failed
/// write puts the old one back.
template <class T>
caf::result<msg::shell_reply>
save(self_ptr self, std::map<std::string, T> shell_service_state::*table,
     T before, T after, std::string message) {
  (self->state.*table)[after.name] = after;
  return persist(
    self, std::move(after),
    [self, table, before] { (self->state.*table)[before.name] = before; },
    std::move(message));
}

// -- lookups with the errors an operator reads -----------------------------

/// The entry called `name` of `table`, or nullptr and the error.
template <class T>
T* find_named(std::map<std::string, T>& table, const std::string& name,
              const char* kind, std::string& err) {
  auto i = table.find(name);
  if (i == table.end()) {
    err = std::string{"no "} + kind + " named '" + name + "' (" + kind
          + "_list shows them)";
    return nullptr;
  }
  return &i->second;
}

msg::assembly_spec* find_assembly(shell_service_state& st,
                                  const std::string& name, std::string& err) {
  return find_named(st.assemblies, name, "assembly", err);
}

msg::deployable_definition* find_deployable(shell_service_state& st,
                                            const std::string& name,
                                            std::string& err) {
  return find_named(st.deployables, name, "deployable", err);
}

/// Refuses what a running deployable must not have changed under it.
std::string running_error(const std::string& deployable) {
  return "deployable '" + deployable + "' is running (deployable_stop "
         + deployable + " first)";
}

/// Changes the entry `name` of `table` (assemblies or deployables): `change`
/// edits a copy and returns an error, or empty and the message to answer;
/// the copy is saved, and a failed write puts the old entry back.
template <class T, class Change>
caf::result<msg::shell_reply>
edit(self_ptr self, std::map<std::string, T> shell_service_state::*table,
     const std::string& name, const char* kind, Change change) {
  std::string err;
  auto* x = find_named(self->state.*table, name, kind, err);
  if (x == nullptr) {
    return error(err);
  }
  auto after = *x;
  std::string message;
  if (auto bad = change(after, message); !bad.empty()) {
    return error(bad);
  }
  return save(self, table, *x, std::move(after), std::move(message));
}

std::string check_new_name(const std::string& kind, const std::string& name) {
  if (!valid_name(name)) {
    return "invalid " + kind + " name '" + name
           + "': use 1-63 letters, digits, '_', '.' or '-', starting with a "
             "letter or digit";
  }
  return {};
}

std::string check_arch(const std::string& arch) {
  if (std::find(supported_archs.begin(), supported_archs.end(), arch)
      == supported_archs.end()) {
    return "unsupported architecture '" + arch
           + "' (supported: " + join(supported_archs) + ")";
  }
  return {};
}

// -- jeos --------------------------------------------------------------------

caf::result<msg::shell_reply> jeos_create(self_ptr self,
                                          const std::vector<std::string>& a) {
  if (auto err = check_arch(a[1]); !err.empty()) {
    return error(err);
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, build_timeout,
              msg::create_atom::value, a[0], a[1])
    .then(
      [rp](const msg::jeos_info& info) mutable {
        rp.deliver(ok("JEOS " + info.name + " (" + info.arch
                      + ") is ready: " + info.path));
      },
      [self, rp](const caf::error& err) mutable {
        rp.deliver(error(render(self, err)));
      });
  return rp;
}

caf::result<msg::shell_reply> jeos_import(self_ptr self,
                                          const std::vector<std::string>& a) {
  if (auto err = check_new_name("JEOS", a[0]); !err.empty()) {
    return error(err);
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, store_timeout,
              msg::import_atom::value, a[0], a[1])
    .then(
      [rp](const msg::jeos_info& info) mutable {
        rp.deliver(ok("JEOS " + info.name + " imported from " + info.path));
      },
      [self, rp](const caf::error& err) mutable {
        rp.deliver(error(render(self, err)));
      });
  return rp;
}

caf::result<msg::shell_reply> jeos_list(self_ptr self) {
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, status_timeout, caf::get_atom::value)
    .then(
      [rp](const std::vector<msg::jeos_info>& xs) mutable {
        auto r = table(
          {"name", "distro", "arch", "origin", "built", "path", "progress"});
        for (auto& x : xs) {
          r.rows.push_back({x.name, x.distro, x.arch, x.origin,
                            x.built ? "yes" : "no", x.path, x.progress});
        }
        rp.deliver(std::move(r));
      },
      [self, rp](const caf::error& err) mutable {
        rp.deliver(error(render(self, err)));
      });
  return rp;
}

caf::result<msg::shell_reply> jeos_delete(self_ptr self,
                                          const std::vector<std::string>& a) {
  std::vector<std::string> users;
  for (auto& [name, spec] : self->state.assemblies) {
    if (spec.jeos == a[0]) {
      users.push_back(name);
    }
  }
  if (!users.empty()) {
    return error("JEOS '" + a[0] + "' is used by " + join(users)
                 + " (assembly_delete them first)");
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.images, store_timeout,
              caf::delete_atom::value, a[0])
    .then(
      [rp, name = a[0]](caf::ok_atom) mutable {
        rp.deliver(ok("JEOS " + name + " deleted"));
      },
      [self, rp](const caf::error& err) mutable {
        rp.deliver(error(render(self, err)));
      });
  return rp;
}

/// Refuses to change an assembly whose deployable runs: its agent holds
/// the resource set of the running VM.
std::string check_not_running(const shell_service_state& st,
                              const std::string& assembly) {
  auto owner = owner_of(st, assembly);
  if (!owner.empty() && is_running(st, owner)) {
    return "assembly '" + assembly + "' runs in deployable '" + owner
           + "' (deployable_stop " + owner + " first)";
  }
  return {};
}

// -- host ports ------------------------------------------------------------

std::string port_key(const std::string& protocol, uint16_t port) {
  return std::to_string(port) + "/" + protocol;
}

/// Who holds host port `port` in the definitions ("assy1/www (http)"), or
/// empty. `skip` leaves out one assembly: the one being changed, whose own
/// ports the caller counts itself.
std::string holder_of(const shell_service_state& st, const std::string& key,
                      const std::string& skip = {}) {
  for (auto& [name, x] : st.assemblies) {
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

/// The host ports `x` holds itself, except those still to be allocated.
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

using allocated
  = std::function<void(std::string error, msg::assembly_spec draft)>;

/// Gives every port of `draft` without a host port one from the forward
/// range: FIRST + the guest port when free (http 80 -> 20080), else the next
/// free one above it, skipping ports other definitions hold and ports that
/// something else on the host has bound (the hypervisor tries to bind them).
/// `done` runs in this actor with the filled draft, or with an error.
void allocate_ports(self_ptr self, msg::assembly_spec draft, allocated done) {
  constexpr size_t candidates_per_port = 32;
  auto& net = self->state.services.network;
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
        if (taken.count(key) > 0
            || !holder_of(self->state, key, draft.name).empty()) {
          continue;
        }
        auto c = p;
        c.host_port = port;
        candidates.push_back(c);
        ++found;
      }
    }
  }
  if (candidates.empty()) {
    done({}, std::move(draft));
    return;
  }
  self
    ->request(self->state.services.hypervisor, status_timeout,
              msg::port_atom::value, candidates)
    .then(
      [self, draft, done](const std::vector<msg::service_port>& free) mutable {
        // Checked again: another command may have taken some meanwhile.
        auto taken = own_ports(draft);
        auto& net = self->state.services.network;
        for (auto& r : draft.resources) {
          for (auto& p : r.ports) {
            if (p.host_port != 0) {
              continue;
            }
            for (auto& c : free) {
              auto key = port_key(c.protocol, c.host_port);
              if (c.name == p.name && c.guest_port == p.guest_port
                  && c.protocol == p.protocol && taken.count(key) == 0
                  && holder_of(self->state, key, draft.name).empty()) {
                p.host_port = c.host_port;
                taken.insert(key);
                break;
              }
            }
            if (p.host_port == 0) {
              done("no free host port for " + r.name + " ("
                     + port_key(p.protocol, p.guest_port) + ") in "
                     + std::to_string(net.first_port) + "-"
                     + std::to_string(net.last_port),
                   {});
              return;
            }
          }
        }
        done({}, std::move(draft));
      },
      [self, done](const caf::error& err) mutable {
        done("cannot check host ports: " + render(self, err), {});
      });
}

/// Parses "80" or "53/udp"; empty error when fine.
std::string parse_port(const std::string& text, const char* what,
                       uint16_t& port, std::string* protocol) {
  auto number = text;
  if (protocol != nullptr) {
    *protocol = "tcp";
    if (auto slash = text.find('/'); slash != std::string::npos) {
      *protocol = text.substr(slash + 1);
      number = text.substr(0, slash);
      if (*protocol != "tcp" && *protocol != "udp") {
        return std::string{what} + " '" + text
               + "': the protocol is tcp or udp";
      }
    }
  }
  if (number.empty() || number.size() > 5
      || !std::all_of(number.begin(), number.end(),
                      [](char c) { return c >= '0' && c <= '9'; })
      || std::stoul(number) < 1 || std::stoul(number) > 65535) {
    return std::string{what} + " must be a port number from 1 to 65535, not '"
           + text + "'";
  }
  port = static_cast<uint16_t>(std::stoul(number));
  return {};
}

/// Saves `draft`, made from `base` before a request to another actor, in
/// place of the assembly, once checked that nothing changed it meanwhile
/// (another shell's edit would be lost) and that it does not run now.
void save_draft(self_ptr self, reply_promise rp, const msg::assembly_spec& base,
                msg::assembly_spec draft, std::string message) {
  auto& st = self->state;
  auto i = st.assemblies.find(draft.name);
  if (i == st.assemblies.end()) {
    rp.deliver(error("assembly '" + draft.name + "' was deleted meanwhile"));
    return;
  }
  if (!(i->second == base)) {
    rp.deliver(error("assembly '" + draft.name
                     + "' was changed meanwhile by another command; nothing "
                       "saved (try again)"));
    return;
  }
  if (auto bad = check_not_running(st, draft.name); !bad.empty()) {
    rp.deliver(error(bad));
    return;
  }
  auto before = i->second;
  i->second = draft;
  persist(
    self, rp, std::move(draft),
    [self, before] { self->state.assemblies[before.name] = before; },
    std::move(message));
}

/// "http 127.0.0.1:20080 -> 80, ..." for the ports of `r`; `addresses` are
/// the guest's (from its agent), used where nothing is forwarded.
std::string endpoints_of(const shell_service_state& st,
                         const msg::assembly_spec& x,
                         const msg::resource_spec& r,
                         const std::vector<std::string>& addresses = {}) {
  auto& net = st.services.network;
  auto network = x.network.empty() ? net.default_network : x.network;
  if (network == msg::no_network) {
    return r.ports.empty() ? "" : "(no network)";
  }
  bool forwarded = network == msg::user_network;
  std::string address = forwarded ? net.forward_address : "";
  if (!forwarded) {
    for (auto& a : addresses) {
      if (a.find(':') == std::string::npos) {
        address = a; // the first IPv4 address
        break;
      }
    }
  }
  std::vector<std::string> xs;
  for (auto& p : r.ports) {
    xs.push_back(msg::describe_port(p, address, forwarded));
  }
  return join(xs);
}

/// Finds resource `name` of `x`, or nullptr and the error.
msg::resource_spec* find_resource(msg::assembly_spec& x,
                                  const std::string& name, std::string& err) {
  for (auto& r : x.resources) {
    if (r.name == name) {
      return &r;
    }
  }
  err = "assembly '" + x.name + "' has no resource '" + name
        + "' (assembly_resource_list " + x.name + ")";
  return nullptr;
}

// -- assemblies ------------------------------------------------------------

caf::result<msg::shell_reply>
assembly_create(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  if (auto err = check_new_name("assembly", a[0]); !err.empty()) {
    return error(err);
  }
  if (st.assemblies.count(a[0]) > 0) {
    return error("assembly '" + a[0] + "' exists already");
  }
  if (auto err = check_arch(a[2]); !err.empty()) {
    return error(err);
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self->request(st.services.images, status_timeout, caf::get_atom::value)
    .then(
      [self, rp, a](const std::vector<msg::jeos_info>& images) mutable {
        auto& st = self->state;
        std::vector<std::string> built;
        const msg::jeos_info* found = nullptr;
        for (auto& x : images) {
          if (x.built) {
            built.push_back(x.name);
          }
          if (x.name == a[1]) {
            found = &x;
          }
        }
        if (found == nullptr || !found->built) {
          auto what = found != nullptr
                        ? "JEOS '" + a[1] + "' is not built yet (jeos_create "
                            + a[1] + " " + a[2] + ")"
                        : "no JEOS named '" + a[1] + "'";
          rp.deliver(error(
            what + "; usable: " + (built.empty() ? "none" : join(built))));
          return;
        }
        if (found->arch != a[2]) {
          rp.deliver(error("JEOS '" + a[1] + "' is built for " + found->arch
                           + ", not " + a[2]));
          return;
        }
        // Checked again: another shell may have taken the name meanwhile.
        if (st.assemblies.count(a[0]) > 0) {
          rp.deliver(error("assembly '" + a[0] + "' exists already"));
          return;
        }
        msg::assembly_spec spec;
        spec.name = a[0];
        spec.uuid = new_uuid(st.random);
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
        st.assemblies[spec.name] = spec;
        persist(
          self, rp, spec,
          [self, name = a[0]] { self->state.assemblies.erase(name); },
          "assembly " + a[0] + " created (JEOS " + a[1] + ", "
            + std::to_string(spec.memory_mib) + " MiB, "
            + std::to_string(spec.vcpus) + " vCPU, uuid " + spec.uuid + ")");
      },
      [self, rp](const caf::error& err) mutable {
        rp.deliver(error("cannot list JEOS images: " + render(self, err)));
      });
  return rp;
}

caf::result<msg::shell_reply>
assembly_clone(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  std::string err;
  auto* from = find_assembly(st, a[0], err);
  if (from == nullptr) {
    return error(err);
  }
  if (auto bad = check_new_name("assembly", a[1]); !bad.empty()) {
    return error(bad);
  }
  if (st.assemblies.count(a[1]) > 0) {
    return error("assembly '" + a[1] + "' exists already");
  }
  auto spec = *from;
  spec.name = a[1];
  spec.uuid = new_uuid(st.random);
  // Its own host ports: both may serve at once.
  for (auto& r : spec.resources) {
    for (auto& p : r.ports) {
      p.host_port = 0;
    }
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  allocate_ports(
    self, std::move(spec),
    [self, rp, from = a[0]](std::string err, msg::assembly_spec spec) mutable {
      if (!err.empty()) {
        rp.deliver(error(err));
        return;
      }
      auto& st = self->state;
      // Checked again: another shell may have taken the name meanwhile.
      if (st.assemblies.count(spec.name) > 0) {
        rp.deliver(error("assembly '" + spec.name + "' exists already"));
        return;
      }
      st.assemblies[spec.name] = spec;
      auto message = "assembly " + spec.name + " cloned from " + from
                     + " (uuid " + spec.uuid + ", "
                     + std::to_string(spec.resources.size()) + " resources)";
      persist(
        self, rp, spec,
        [self, name = spec.name] { self->state.assemblies.erase(name); },
        std::move(message));
    });
  return rp;
}

caf::result<msg::shell_reply>
assembly_delete(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  std::string err;
  auto* x = find_assembly(st, a[0], err);
  if (x == nullptr) {
    return error(err);
  }
  if (auto owner = owner_of(st, a[0]); !owner.empty()) {
    return error("assembly '" + a[0] + "' belongs to deployable '" + owner
                 + "' (deployable_assembly_remove " + owner + " " + a[0]
                 + " first)");
  }
  auto before = *x;
  st.assemblies.erase(a[0]);
  return erase(
    self, before,
    [self, before] { self->state.assemblies[before.name] = before; },
    "assembly " + a[0] + " deleted");
}

msg::shell_reply assembly_list(self_ptr self) {
  auto& st = self->state;
  auto r = table({"name", "jeos", "resources", "deployable", "network",
                  "services", "memory_mib", "vcpus", "transport", "uuid"});
  for (auto& [name, x] : st.assemblies) {
    std::vector<std::string> names;
    std::vector<std::string> services;
    for (auto& res : x.resources) {
      names.push_back(res.name);
      if (auto where = endpoints_of(st, x, res); !where.empty()) {
        services.push_back(res.name + " " + where);
      }
    }
    auto network
      = x.network.empty() ? st.services.network.default_network : x.network;
    auto transport
      = x.agent_transport.empty() ? msg::channel_transport : x.agent_transport;
    r.rows.push_back({name, x.jeos, join(names, ","), owner_of(st, name),
                      network, join(services, "; "),
                      std::to_string(x.memory_mib), std::to_string(x.vcpus),
                      transport, x.uuid});
  }
  return r;
}

caf::result<msg::shell_reply>
assembly_port_set(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  std::string err;
  auto* x = find_assembly(st, a[0], err);
  if (x == nullptr) {
    return error(err);
  }
  auto draft = *x;
  auto* r = find_resource(draft, a[1], err);
  if (r == nullptr) {
    return error(err);
  }
  msg::service_port wanted;
  if (auto bad = parse_port(a[2], "PORT", wanted.guest_port, &wanted.protocol);
      !bad.empty()) {
    return error(bad);
  }
  if (a.size() > 3) {
    if (auto bad = parse_port(a[3], "HOST_PORT", wanted.host_port, nullptr);
        !bad.empty()) {
      return error(bad);
    }
    if (wanted.host_port < 1024) {
      return error("HOST_PORT " + a[3]
                   + " is privileged: QEMU runs as an unprivileged user and "
                     "cannot listen there (use 1024-65535)");
    }
  }
  if (auto bad = check_not_running(st, a[0]); !bad.empty()) {
    return error(bad);
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
    allocate_ports(self, std::move(draft),
                   [self, rp, what, name = a[1], guest, base = *x](
                     std::string err, msg::assembly_spec draft) mutable {
                     if (!err.empty()) {
                       rp.deliver(error(err));
                       return;
                     }
                     uint16_t host = 0;
                     for (auto& r : draft.resources) {
                       for (auto& q : r.ports) {
                         if (r.name == name && q.guest_port == guest.guest_port
                             && q.protocol == guest.protocol) {
                           host = q.host_port;
                         }
                       }
                     }
                     auto message = what + " forwarded from host port "
                                    + std::to_string(host);
                     save_draft(self, rp, base, std::move(draft), message);
                   });
    return rp;
  }
  auto key = port_key(p->protocol, p->host_port);
  if (auto holder = holder_of(st, key, a[0]); !holder.empty()) {
    return error("host port " + key + " is taken by " + holder);
  }
  for (auto& q : draft.resources) {
    for (auto& o : q.ports) {
      if (&o != &*p && o.host_port != 0
          && port_key(o.protocol, o.host_port) == key) {
        return error("host port " + key + " is taken by " + a[0] + "/" + q.name
                     + " (" + o.name + ")");
      }
    }
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  auto probe = *p;
  self
    ->request(st.services.hypervisor, status_timeout, msg::port_atom::value,
              std::vector<msg::service_port>{probe})
    .then(
      [self, rp, base = *x, draft, key,
       what](const std::vector<msg::service_port>& free) mutable {
        if (free.empty()) {
          rp.deliver(error("host port " + key + " is in use on "
                           + self->state.services.network.forward_address
                           + " by another program"));
          return;
        }
        if (auto holder = holder_of(self->state, key, draft.name);
            !holder.empty()) {
          rp.deliver(error("host port " + key + " is taken by " + holder));
          return;
        }
        save_draft(self, rp, base, std::move(draft),
                   what + " forwarded from host port " + key);
      },
      [self, rp](const caf::error& err) mutable {
        rp.deliver(error("cannot check host ports: " + render(self, err)));
      });
  return rp;
}

caf::result<msg::shell_reply>
assembly_port_remove(self_ptr self, const std::vector<std::string>& a) {
  return edit(self, &shell_service_state::assemblies, a[0], "assembly",
              [&](msg::assembly_spec& x, std::string& message) {
                std::string err;
                auto* r = find_resource(x, a[1], err);
                if (r == nullptr) {
                  return err;
                }
                msg::service_port wanted;
                if (auto bad = parse_port(a[2], "PORT", wanted.guest_port,
                                          &wanted.protocol);
                    !bad.empty()) {
                  return bad;
                }
                if (auto bad = check_not_running(self->state, a[0]);
                    !bad.empty()) {
                  return bad;
                }
                auto& ports = r->ports;
                auto p = std::find_if(ports.begin(), ports.end(), [&](auto& q) {
                  return q.guest_port == wanted.guest_port
                         && q.protocol == wanted.protocol;
                });
                if (p == ports.end()) {
                  return "resource " + a[1] + " of " + a[0] + " has no port "
                         + port_key(wanted.protocol, wanted.guest_port);
                }
                ports.erase(p);
                message = "port " + port_key(wanted.protocol, wanted.guest_port)
                          + " of " + a[1] + " no longer forwarded";
                return std::string{};
              });
}

caf::result<msg::shell_reply>
assembly_network_set(self_ptr self, const std::vector<std::string>& a) {
  std::string err;
  if (find_assembly(self->state, a[0], err) == nullptr) {
    return error(err);
  }
  if (auto bad = check_not_running(self->state, a[0]); !bad.empty()) {
    return error(bad);
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.hypervisor, status_timeout,
              msg::network_atom::value)
    .then(
      [self, rp, a](const std::vector<std::string>& names) mutable {
        if (std::find(names.begin(), names.end(), a[1]) == names.end()) {
          rp.deliver(error("no network named '" + a[1]
                           + "' (networks: " + join(names) + ")"));
          return;
        }
        std::string gone;
        auto* x = find_assembly(self->state, a[0], gone);
        if (x == nullptr) {
          rp.deliver(error("assembly '" + a[0] + "' was deleted meanwhile"));
          return;
        }
        auto draft = *x;
        draft.network = a[1];
        save_draft(self, rp, *x, std::move(draft),
                   "assembly " + a[0] + " on network " + a[1]
                     + (a[1] == msg::no_network ? " (no NIC)" : ""));
      },
      [self, rp](const caf::error& err) mutable {
        rp.deliver(error("cannot list networks: " + render(self, err)));
      });
  return rp;
}

caf::result<msg::shell_reply> assembly_set(self_ptr self,
                                           const std::vector<std::string>& a) {
  const auto& [assembly, setting, value] = std::tie(a[0], a[1], a[2]);
  return edit(
    self, &shell_service_state::assemblies, assembly, "assembly",
    [&](msg::assembly_spec& x, std::string& message) -> std::string {
      if (auto bad = check_not_running(self->state, assembly); !bad.empty()) {
        return bad;
      }
      auto number = [&](uint32_t low, uint32_t high, uint32_t& out) {
        if (value.empty() || value.size() > 6
            || value.find_first_not_of("0123456789") != std::string::npos
            || std::stoul(value) < low || std::stoul(value) > high) {
          return setting + " must be a number from " + std::to_string(low)
                 + " to " + std::to_string(high) + ", not '" + value + "'";
        }
        out = static_cast<uint32_t>(std::stoul(value));
        return std::string{};
      };
      auto duration = [&](caf::timespan& out) {
        auto d = msg::parse_duration(value);
        if (!d || *d <= caf::timespan{0}) {
          return setting + " must be a duration such as 240s or 5min, not '"
                 + value + "'";
        }
        out = *d;
        return std::string{};
      };
      std::string bad;
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
        } else if (value != msg::tcp_transport) {
          bad = "transport must be channel or tcp, not '" + value + "'";
        } else if (self->state.services.network.agent_port == 0) {
          bad = "pcloudd has no agent listener for the tcp transport (start "
                "it with --agent-listen ADDR[:PORT])";
        } else {
          x.agent_transport = value;
        }
      } else {
        return "unknown setting '" + setting
               + "' (settings: memory, vcpus, boot_timeout, stop_timeout, "
                 "transport)";
      }
      if (bad.empty()) {
        message = "assembly " + assembly + ": " + setting + " " + value
                  + (setting == "memory" ? " MiB" : "");
      }
      return bad;
    });
}

caf::result<msg::shell_reply>
assembly_resource_add(self_ptr self, const std::vector<std::string>& a) {
  const auto& [name, template_name, assembly] = std::tie(a[0], a[1], a[2]);
  auto& st = self->state;
  std::string err;
  auto* x = find_assembly(st, assembly, err);
  if (x == nullptr) {
    return error(err);
  }
  if (auto bad = check_new_name("resource", name); !bad.empty()) {
    return error(bad);
  }
  for (auto& r : x->resources) {
    if (r.name == name) {
      return error("assembly '" + assembly + "' has a resource '" + name
                   + "' already");
    }
  }
  if (auto bad = check_not_running(st, assembly); !bad.empty()) {
    return error(bad);
  }
  auto t = std::find_if(st.templates.begin(), st.templates.end(),
                        [&](auto& y) { return y.name == template_name; });
  if (t == st.templates.end()) {
    std::vector<std::string> names;
    for (auto& y : st.templates) {
      names.push_back(y.name);
    }
    return error("no template named '" + template_name
                 + "' (templates: " + join(names) + ")");
  }
  auto v = t->variants.find(x->jeos);
  if (v == t->variants.end()) {
    std::vector<std::string> jeos;
    for (auto& [j, spec] : t->variants) {
      jeos.push_back(j);
    }
    return error("template '" + template_name + "' cannot run on JEOS '"
                 + x->jeos + "' (it has variants for " + join(jeos) + ")");
  }
  auto res = v->second;
  res.name = name;
  auto draft = *x;
  draft.resources.push_back(res);
  auto rp = self->make_response_promise<msg::shell_reply>();
  allocate_ports(
    self, std::move(draft),
    [self, rp, name, template_name, assembly,
     base = *x](std::string err, msg::assembly_spec draft) mutable {
      if (!err.empty()) {
        rp.deliver(error(err));
        return;
      }
      auto& st = self->state;
      auto& res = draft.resources.back();
      auto message = "resource " + name + " (" + template_name + ": "
                     + res.resource_class + " " + res.type + ") added to "
                     + assembly;
      if (auto where = endpoints_of(st, draft, res); !where.empty()) {
        message += "; " + where;
      }
      save_draft(self, rp, base, std::move(draft), std::move(message));
    });
  return rp;
}

caf::result<msg::shell_reply>
assembly_resource_remove(self_ptr self, const std::vector<std::string>& a) {
  return edit(
    self, &shell_service_state::assemblies, a[1], "assembly",
    [&](msg::assembly_spec& x, std::string& message) {
      auto& rs = x.resources;
      auto i = std::find_if(rs.begin(), rs.end(),
                            [&](auto& r) { return r.name == a[0]; });
      if (i == rs.end()) {
        return "assembly '" + a[1] + "' has no resource '" + a[0] + "'";
      }
      if (auto bad = check_not_running(self->state, a[1]); !bad.empty()) {
        return bad;
      }
      rs.erase(i);
      message = "resource " + a[0] + " removed from " + a[1];
      return std::string{};
    });
}

caf::result<msg::shell_reply>
assembly_resource_list(self_ptr self, const std::vector<std::string>& a) {
  std::string err;
  auto* x = find_assembly(self->state, a[0], err);
  if (x == nullptr) {
    return error(err);
  }
  auto r = table({"name", "class", "type", "monitor", "ports"});
  for (auto& res : x->resources) {
    r.rows.push_back({res.name, res.resource_class, res.type,
                      "every " + msg::format_duration(res.monitor_interval),
                      endpoints_of(self->state, *x, res)});
  }
  return r;
}

msg::shell_reply template_list(self_ptr self) {
  auto r = table({"name", "jeos", "class", "type", "ports", "description"});
  for (auto& t : self->state.templates) {
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

// -- deployables -------------------------------------------------------------

caf::result<msg::shell_reply> escalation_set(self_ptr self,
                                             const std::vector<std::string>& a,
                                             bool resources) {
  return edit(
    self, &shell_service_state::deployables, a[0], "deployable",
    [&](msg::deployable_definition& d, std::string& message) {
      if (a[1].empty() || a[1].size() > 6
          || !std::all_of(a[1].begin(), a[1].end(),
                          [](char c) { return c >= '0' && c <= '9'; })) {
        return "MAX_FAILURES must be a whole number from 0 to 999999, not '"
               + a[1] + "'";
      }
      auto window = msg::parse_duration(a[2]);
      if (!window || window->count() <= 0) {
        return "WINDOW must be a duration such as 60s, 5min or 1h, not '" + a[2]
               + "'";
      }
      auto& policy = resources ? d.resource_escalation : d.assembly_escalation;
      policy.max_failures = static_cast<uint32_t>(std::stoul(a[1]));
      policy.window = *window;
      message = std::string{resources ? "resource" : "assembly"}
                + " escalation of " + a[0] + ": "
                + (policy.max_failures == 0
                     ? "never escalate"
                     : std::to_string(policy.max_failures) + " failures in "
                         + msg::format_duration(policy.window));
      if (d.running) {
        message += " (takes effect at the next deployable_start)";
      }
      return std::string{};
    });
}

caf::result<msg::shell_reply>
deployable_create(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  if (auto err = check_new_name("deployable", a[0]); !err.empty()) {
    return error(err);
  }
  if (st.deployables.count(a[0]) > 0) {
    return error("deployable '" + a[0] + "' exists already");
  }
  msg::deployable_definition d;
  d.name = a[0];
  st.deployables[d.name] = d;
  return persist(
    self, d, [self, name = a[0]] { self->state.deployables.erase(name); },
    "deployable " + a[0] + " created");
}

caf::result<msg::shell_reply>
deployable_delete(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  std::string err;
  auto* d = find_deployable(st, a[0], err);
  if (d == nullptr) {
    return error(err);
  }
  if (d->running) {
    return error(running_error(a[0]));
  }
  auto before = *d;
  st.deployables.erase(a[0]);
  if (auto i = st.running.find(a[0]); i != st.running.end()) {
    self->unlink_from(i->second);
    self->send_exit(i->second, caf::exit_reason::user_shutdown);
    st.running.erase(i);
  }
  return erase(
    self, before,
    [self, before] { self->state.deployables[before.name] = before; },
    "deployable " + a[0] + " deleted (its assemblies remain)");
}

msg::shell_reply deployable_list(self_ptr self) {
  auto r = table({"name", "assemblies", "running"});
  for (auto& [name, d] : self->state.deployables) {
    r.rows.push_back({name, join(d.assemblies, ","), d.running ? "yes" : "no"});
  }
  return r;
}

caf::result<msg::shell_reply>
deployable_assembly_add(self_ptr self, const std::vector<std::string>& a) {
  return edit(self, &shell_service_state::deployables, a[0], "deployable",
              [&](msg::deployable_definition& d, std::string& message) {
                auto& st = self->state;
                std::string err;
                if (find_assembly(st, a[1], err) == nullptr) {
                  return err;
                }
                if (auto owner = owner_of(st, a[1]); !owner.empty()) {
                  return "assembly '" + a[1] + "' belongs to deployable '"
                         + owner
                         + "' already (an assembly is one VM; "
                           "assembly_clone makes another)";
                }
                if (d.running) {
                  return running_error(a[0]);
                }
                d.assemblies.push_back(a[1]);
                message = "assembly " + a[1] + " added to " + a[0];
                return std::string{};
              });
}

caf::result<msg::shell_reply>
deployable_assembly_remove(self_ptr self, const std::vector<std::string>& a) {
  return edit(self, &shell_service_state::deployables, a[0], "deployable",
              [&](msg::deployable_definition& d, std::string& message) {
                auto& xs = d.assemblies;
                auto i = std::find(xs.begin(), xs.end(), a[1]);
                if (i == xs.end()) {
                  return "deployable '" + a[0] + "' has no assembly '" + a[1]
                         + "'";
                }
                if (d.running) {
                  return running_error(a[0]);
                }
                xs.erase(i);
                message = "assembly " + a[1] + " removed from " + a[0];
                return std::string{};
              });
}

caf::result<msg::shell_reply>
deployable_assembly_list(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  std::string err;
  auto* d = find_deployable(st, a[0], err);
  if (d == nullptr) {
    return error(err);
  }
  auto r = table({"name", "jeos", "resources"});
  for (auto& name : d->assemblies) {
    auto i = st.assemblies.find(name);
    if (i == st.assemblies.end()) {
      r.rows.push_back({name, "(missing)", ""});
      continue;
    }
    std::vector<std::string> names;
    for (auto& res : i->second.resources) {
      names.push_back(res.name);
    }
    r.rows.push_back({name, i->second.jeos, join(names, ",")});
  }
  return r;
}

/// The spec a deployable actor runs: the definition with its assemblies'
/// definitions filled in. Empty error when complete.
msg::deployable_spec spec_of(const shell_service_state& st,
                             const msg::deployable_definition& d,
                             std::string& err) {
  msg::deployable_spec spec;
  spec.name = d.name;
  spec.policy = d.policy;
  spec.max_restarts = d.max_restarts;
  spec.restart_window = d.restart_window;
  spec.assembly_escalation = d.assembly_escalation;
  spec.resource_escalation = d.resource_escalation;
  for (auto& name : d.assemblies) {
    auto i = st.assemblies.find(name);
    if (i == st.assemblies.end()) {
      err = "deployable '" + d.name + "' names assembly '" + name
            + "', which does not exist";
      return spec;
    }
    spec.assemblies.push_back(i->second);
  }
  return spec;
}

void launch(self_ptr self, const msg::deployable_spec& spec) {
  auto& st = self->state;
  if (auto i = st.running.find(spec.name); i != st.running.end()) {
    // The stopped actor of an earlier run; its exit is not an error.
    self->unlink_from(i->second);
    self->send_exit(i->second, caf::exit_reason::user_shutdown);
  }
  auto& s = st.services;
  auto dep = self->spawn<caf::linked>(deployable, spec, s.bus, s.hypervisor,
                                      s.gateway);
  st.running[spec.name] = dep;
  self->send(dep, msg::start_atom::value);
}

caf::result<msg::shell_reply>
deployable_start(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  std::string err;
  auto* d = find_deployable(st, a[0], err);
  if (d == nullptr) {
    return error(err);
  }
  if (d->running) {
    return error("deployable '" + a[0]
                 + "' is running already (deployable_status " + a[0] + ")");
  }
  if (d->assemblies.empty()) {
    return error("deployable '" + a[0]
                 + "' has no assemblies (deployable_assembly_add " + a[0]
                 + " ASSEMBLY)");
  }
  auto spec = spec_of(st, *d, err);
  if (!err.empty()) {
    return error(err);
  }
  auto before = *d;
  auto after = *d;
  after.running = true;
  st.deployables[a[0]] = after;
  auto rp = self->make_response_promise<msg::shell_reply>();
  // Saved before the VMs start: a pcloudd killed right after adopts them.
  self->request(st.services.store, store_timeout, caf::put_atom::value, after)
    .then(
      [self, rp, spec](caf::ok_atom) mutable {
        launch(self, spec);
        rp.deliver(ok("deployable " + spec.name + " starting "
                      + std::to_string(spec.assemblies.size())
                      + " assemblies (events or deployable_status " + spec.name
                      + " to follow)"));
      },
      [self, rp, before](const caf::error& err) mutable {
        self->state.deployables[before.name] = before;
        rp.deliver(error("not started, not saved: " + render(self, err)));
      });
  return rp;
}

/// Answers `rp` once the deployable `name` reports STOPPED.
void reply_when_stopped(self_ptr self, reply_promise rp, std::string name,
                        msg::deployable_actor dep, caf::timespan timeout) {
  using waiter_actor
    = msg::event_listener_actor::extend<caf::reacts_to<caf::close_atom>>;
  auto bus = self->state.services.bus;
  // Values as spawn arguments, not captures: CAF 0.17 dereferences a null
  // argument tuple for a lambda spawned without arguments (UBSan).
  auto waiter = self->spawn(
    [](waiter_actor::pointer waiter, reply_promise rp, std::string name,
       msg::deployable_actor dep, msg::event_bus_actor bus,
       caf::timespan timeout) -> waiter_actor::behavior_type {
      auto done = std::make_shared<bool>(false);
      auto finish = [=](std::string message) mutable {
        if (!*done) {
          *done = true;
          rp.deliver(ok(std::move(message)));
          waiter->send(bus, caf::unsubscribe_atom::value,
                       caf::actor_cast<msg::event_listener_actor>(waiter));
          waiter->quit();
        }
      };
      // The deployable may be stopped already: ask it once.
      waiter->request(dep, status_timeout, caf::get_atom::value)
        .then(
          [=](const msg::deployable_status& s) mutable {
            if (s.state == msg::state::stopped) {
              finish("deployable " + name + " stopped");
            }
          },
          [=](const caf::error&) mutable {
            finish("deployable " + name + " stopped");
          });
      waiter->delayed_send(waiter, timeout, caf::close_atom::value);
      return {
        [=](const msg::event& ev) mutable {
          if (ev.deployable == name && ev.assembly.empty()
              && ev.state == msg::state::stopped) {
            finish("deployable " + name + " stopped");
          }
        },
        [=](caf::close_atom) mutable {
          finish("deployable " + name + " is still stopping (deployable_status "
                 + name + " follows it)");
        },
      };
    },
    rp, name, dep, bus, timeout);
  self->send(bus, caf::subscribe_atom::value,
             caf::actor_cast<msg::event_listener_actor>(waiter));
}

caf::result<msg::shell_reply>
deployable_stop(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  std::string err;
  auto* d = find_deployable(st, a[0], err);
  if (d == nullptr) {
    return error(err);
  }
  auto i = st.running.find(a[0]);
  if (!d->running && i == st.running.end()) {
    return error("deployable '" + a[0] + "' is not running");
  }
  auto before = *d;
  auto after = *d;
  after.running = false;
  st.deployables[a[0]] = after;
  auto rp = self->make_response_promise<msg::shell_reply>();
  caf::timespan timeout{std::chrono::seconds(60)};
  if (auto spec = spec_of(st, after, err); err.empty()) {
    for (auto& x : spec.assemblies) {
      timeout = std::max(timeout, x.stop_timeout + std::chrono::seconds(60));
    }
  }
  self->request(st.services.store, store_timeout, caf::put_atom::value, after)
    .then(
      [self, rp, name = a[0], timeout](caf::ok_atom) mutable {
        auto& st = self->state;
        auto i = st.running.find(name);
        if (i == st.running.end()) {
          rp.deliver(ok("deployable " + name + " stopped"));
          return;
        }
        self->send(i->second, msg::stop_atom::value);
        reply_when_stopped(self, rp, name, i->second, timeout);
      },
      [self, rp, before](const caf::error& err) mutable {
        self->state.deployables[before.name] = before;
        rp.deliver(error("not stopped, not saved: " + render(self, err)));
      });
  return rp;
}

void add_status_rows(const shell_service_state& st, msg::shell_reply& r,
                     const msg::deployable_status& s) {
  r.rows.push_back({s.name, msg::to_string(s.state), std::to_string(s.restarts),
                    "", "", s.reason});
  for (auto& a : s.assemblies) {
    auto path = s.name + "/" + a.name;
    r.rows.push_back({path, msg::to_string(a.state), std::to_string(a.restarts),
                      a.domain_name, "", a.reason});
    auto spec = st.assemblies.find(a.name);
    for (auto& res : a.resources) {
      std::string where;
      if (spec != st.assemblies.end()) {
        for (auto& def : spec->second.resources) {
          if (def.name == res.name) {
            where = endpoints_of(st, spec->second, def, a.addresses);
          }
        }
      }
      r.rows.push_back({path + "/" + res.name, msg::to_string(res.state),
                        std::to_string(res.restarts), "", where, res.reason});
    }
  }
}

caf::result<msg::shell_reply>
deployable_status(self_ptr self, const std::vector<std::string>& a) {
  auto& st = self->state;
  std::vector<std::string> names;
  if (!a.empty()) {
    std::string err;
    if (find_deployable(st, a[0], err) == nullptr) {
      return error(err);
    }
    names.push_back(a[0]);
  } else {
    for (auto& [name, d] : st.deployables) {
      names.push_back(name);
    }
  }
  struct gather {
    msg::shell_reply reply
      = table({"path", "state", "restarts", "domain", "service", "reason"});
    std::map<std::string, msg::deployable_status> found;
    size_t pending = 0;
  };
  auto g = std::make_shared<gather>();
  auto rp = self->make_response_promise<msg::shell_reply>();
  auto finish = [st = &self->state, g, names, rp]() mutable {
    for (auto& name : names) {
      auto i = g->found.find(name);
      if (i != g->found.end()) {
        add_status_rows(*st, g->reply, i->second);
        continue;
      }
      // Never started since pcloudd started: everything is STOPPED.
      msg::deployable_status s;
      s.name = name;
      s.reason = "not started";
      for (auto& assembly : st->deployables[name].assemblies) {
        msg::assembly_status x;
        x.name = assembly;
        auto j = st->assemblies.find(assembly);
        if (j != st->assemblies.end()) {
          for (auto& res : j->second.resources) {
            msg::resource_status y;
            y.name = res.name;
            x.resources.push_back(y);
          }
        }
        s.assemblies.push_back(x);
      }
      add_status_rows(*st, g->reply, s);
    }
    rp.deliver(g->reply);
  };
  for (auto& name : names) {
    if (auto i = st.running.find(name); i != st.running.end()) {
      ++g->pending;
      self->request(i->second, status_timeout, caf::get_atom::value)
        .then(
          [g, finish](const msg::deployable_status& s) mutable {
            g->found[s.name] = s;
            if (--g->pending == 0) {
              finish();
            }
          },
          [g, finish](const caf::error&) mutable {
            if (--g->pending == 0) {
              finish();
            }
          });
    }
  }
  if (g->pending == 0) {
    finish();
  }
  return rp;
}

using handler = std::function<caf::result<msg::shell_reply>(
  self_ptr, const std::vector<std::string>&)>;

const std::map<std::string, handler>& handlers() {
  using args = const std::vector<std::string>&;
  static const std::map<std::string, handler> table{
    {"jeos_create", jeos_create},
    {"jeos_import", jeos_import},
    {"jeos_list", [](self_ptr self, args) { return jeos_list(self); }},
    {"jeos_delete", jeos_delete},
    {"assembly_create", assembly_create},
    {"assembly_clone", assembly_clone},
    {"assembly_delete", assembly_delete},
    {"assembly_list",
     [](self_ptr self, args) -> caf::result<msg::shell_reply> {
       return assembly_list(self);
     }},
    {"assembly_resource_add", assembly_resource_add},
    {"assembly_resource_remove", assembly_resource_remove},
    {"assembly_resource_list", assembly_resource_list},
    {"assembly_port_set", assembly_port_set},
    {"assembly_port_remove", assembly_port_remove},
    {"assembly_network_set", assembly_network_set},
    {"assembly_set", assembly_set},
    {"template_list",
     [](self_ptr self, args) -> caf::result<msg::shell_reply> {
       return template_list(self);
     }},
    {"escalation_resource_set",
     [](self_ptr self, args a) { return escalation_set(self, a, true); }},
    {"escalation_assembly_set",
     [](self_ptr self, args a) { return escalation_set(self, a, false); }},
    {"deployable_create", deployable_create},
    {"deployable_delete", deployable_delete},
    {"deployable_list",
     [](self_ptr self, args) -> caf::result<msg::shell_reply> {
       return deployable_list(self);
     }},
    {"deployable_assembly_add", deployable_assembly_add},
    {"deployable_assembly_remove", deployable_assembly_remove},
    {"deployable_assembly_list", deployable_assembly_list},
    {"deployable_start", deployable_start},
    {"deployable_stop", deployable_stop},
    {"deployable_status", deployable_status},
  };
  return table;
}

caf::result<msg::shell_reply> dispatch(self_ptr self,
                                       const msg::shell_request& req) {
  auto* cmd = msg::find_command(req.command);
  auto h = handlers().find(req.command);
  if (cmd == nullptr || cmd->local || h == handlers().end()) {
    return error("unknown command '" + req.command + "' (help lists them)");
  }
  if (req.args.size() < msg::required_arguments(*cmd)
      || req.args.size() > cmd->arguments.size()) {
    return error("usage: " + msg::usage_of(*cmd));
  }
  return h->second(self, req.args);
}

} // namespace

bool tokens_equal(const std::string& x, const std::string& y) {
  unsigned char diff = x.size() == y.size() ? 0 : 1;
  const auto& longer = x.size() >= y.size() ? x : y;
  for (size_t i = 0; i < longer.size(); ++i) {
    auto cx = i < x.size() ? x[i] : 0;
    auto cy = i < y.size() ? y[i] : 0;
    diff |= static_cast<unsigned char>(cx ^ cy);
  }
  return diff == 0 && !x.empty();
}

msg::shell_service_actor::behavior_type
shell_service(self_ptr self, std::string token, shell_services services,
              std::vector<msg::resource_template> templates,
              msg::definitions loaded, uint64_t seed) {
  auto& st = self->state;
  st.random.seed(seed);
  st.token = std::move(token);
  st.services = std::move(services);
  st.templates = std::move(templates);
  for (auto& x : loaded.assemblies) {
    st.assemblies[x.name] = x;
  }
  for (auto& x : loaded.deployables) {
    st.deployables[x.name] = x;
  }
  for (auto& [name, d] : st.deployables) {
    if (!d.running) {
      continue;
    }
    std::string err;
    auto spec = spec_of(st, d, err);
    if (!err.empty()) {
      spdlog::error("shell: cannot restart {}: {}", name, err);
      continue;
    }
    spdlog::info("shell: {} was running: starting it (running VMs are "
                 "adopted)",
                 name);
    launch(self, spec);
  }
  // Deployables are linked: they end with the service (their VMs keep
  // running). One that ends by itself does not take the service down.
  self->set_exit_handler([=](const caf::exit_msg& em) {
    auto& running = self->state.running;
    for (auto i = running.begin(); i != running.end(); ++i) {
      if (i->second.address() == em.source) {
        if (em.reason) {
          spdlog::error("shell: deployable actor {} ended: {}", i->first,
                        describe(self->system(), em.reason));
        }
        running.erase(i);
        return;
      }
    }
    self->quit(em.reason);
  });
  self->set_down_handler([=](const caf::down_msg& dm) {
    auto& consoles = self->state.consoles;
    for (auto i = consoles.begin(); i != consoles.end(); ++i) {
      if (i->second.address() == dm.source) {
        consoles.erase(i);
        return;
      }
    }
  });
  auto authorized = [=](const std::string& token, const char* what) {
    if (tokens_equal(token, self->state.token)) {
      return true;
    }
    spdlog::warn("shell: {} refused: wrong token", what);
    return false;
  };
  return {
    [=](const msg::shell_request& req) -> caf::result<msg::shell_reply> {
      if (!tokens_equal(req.token, self->state.token)) {
        spdlog::warn("shell: request '{}' refused: wrong token",
                     req.command.substr(0, 40));
        return error("not authorized: wrong or missing token");
      }
      spdlog::debug("shell: {} {}", req.command, join(req.args, " "));
      return dispatch(self, req);
    },
    [=](caf::subscribe_atom, const std::string& token,
        msg::event_listener_actor listener)
      -> caf::result<std::vector<msg::event>> {
      if (!tokens_equal(token, self->state.token)) {
        spdlog::warn("shell: event subscription refused: wrong token");
        return caf::make_error(caf::sec::runtime_error,
                               "not authorized: wrong or missing token");
      }
      auto bus = self->state.services.bus;
      self->send(bus, caf::subscribe_atom::value, listener);
      return self->delegate(bus, caf::get_atom::value);
    },
    [=](msg::console_atom, const std::string& token,
        const std::string& assembly,
        msg::console_listener_actor listener) -> caf::result<uint64_t> {
      if (!authorized(token, "console")) {
        return caf::make_error(caf::sec::runtime_error,
                               "not authorized: wrong or missing token");
      }
      if (self->state.assemblies.count(assembly) == 0) {
        return caf::make_error(caf::sec::runtime_error,
                               "no assembly named '" + assembly
                                 + "' (assembly_list shows them)");
      }
      auto rp = self->make_response_promise<uint64_t>();
      auto& s = self->state.services;
      self
        ->request(s.hypervisor, status_timeout, msg::console_atom::value,
                  assembly)
        .then(
          [=](const std::string& path) mutable {
            self
              ->request(self->state.services.consoles, status_timeout,
                        caf::open_atom::value, path, listener)
              .then(
                [=](msg::console_session_actor session) mutable {
                  auto& st = self->state;
                  auto id = st.next_console++;
                  self->monitor(session);
                  st.consoles[id] = session;
                  spdlog::info("shell: console {} of {} opened", id, assembly);
                  rp.deliver(id);
                },
                [=](const caf::error& err) mutable { rp.deliver(err); });
          },
          [=](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](msg::console_atom, const std::string& token, uint64_t id,
        const std::string& bytes) {
      auto& consoles = self->state.consoles;
      auto i = consoles.find(id);
      if (authorized(token, "console input") && i != consoles.end()) {
        self->send(i->second, msg::console_atom::value, bytes);
      }
    },
    [=](caf::close_atom, const std::string& token, uint64_t id) {
      auto& consoles = self->state.consoles;
      auto i = consoles.find(id);
      if (authorized(token, "console close") && i != consoles.end()) {
        self->send(i->second, caf::close_atom::value);
        consoles.erase(i);
      }
    },
  };
}

bool valid_name(const std::string& x) {
  if (x.empty() || x.size() > 63) {
    return false;
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9');
  };
  if (!alnum(x[0])) {
    return false;
  }
  return std::all_of(x.begin(), x.end(), [&](char c) {
    return alnum(c) || c == '_' || c == '.' || c == '-';
  });
}

} // namespace pcloud::actors
