// actors/assembly.cpp -- keeps one VM and its resources running.
//
// Its state follows the table in actors/assembly_machine.cpp (a test keeps
// this diagram equal to it):
//
//   STOPPED, FAILED --start--> STARTING
//   STARTING, RECOVERING --hello--> ACTIVE
//   STARTING, ACTIVE, RECOVERING --vm_failed--> RECOVERING
//   STARTING, ACTIVE, RECOVERING --gave_up--> FAILED
//   any --restart--> RECOVERING
//   STARTING, ACTIVE, RECOVERING, FAILED --shut_down--> STOPPED
//   STARTING, ACTIVE, RECOVERING, FAILED --stop_failed--> FAILED
//
// A guest without an agent says no hello: its domain running (and, on a
// libvirt network, its lease) stands for one.
//
// Within a state, its phase (assembly_state::phase) says what is in flight. A
// failure while a restart is in flight is ignored; one while booting is new.
// stop shuts the VM down from any state; shut_down or stop_failed follows.
#include "actors/assembly.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/assembly_machine.hpp"
#include "actors/resource.hpp"

namespace pcloud::actors {

namespace {

using self_ptr = msg::assembly_actor::stateful_pointer<assembly_state>;
using phase = assembly_state::phase;
using msg::state;

/// How long a destroy may take before the hypervisor is deemed stuck.
constexpr auto destroy_timeout = std::chrono::seconds(60);

std::string qualified(const assembly_state& st) {
  return st.ctx.deployable + "/" + st.spec.name;
}

/// The guest has no agent: the VM and its services' ports are watched from
/// the host alone.
bool agentless(const assembly_state& st) {
  return st.spec.agent_transport == msg::no_agent;
}

bool on_libvirt_network(const assembly_state& st) {
  auto& network = st.spec.network;
  return !network.empty() && network != msg::user_network
         && network != msg::no_network;
}

/// Where its services answer on a libvirt network: the guest's address in
/// the network's subnet, leased to it.
std::string address_of(const assembly_state& st) {
  return st.address.service();
}

/// How often, and how many times, a lease not yet known to libvirt is asked
/// again: dnsmasq tells libvirt of a lease a moment after the guest has it.
constexpr auto lease_retry = std::chrono::milliseconds(250);
constexpr uint32_t max_lease_asks = 40;

msg::assembly_status status_of(self_ptr self) {
  auto& st = self->state;
  msg::assembly_status result;
  result.name = st.spec.name;
  result.state = st.current;
  result.reason = st.reason;
  result.domain_name = st.domain.domain_name;
  result.incarnation = st.domain.incarnation;
  result.restarts = st.restarts;
  result.addresses = st.address.named;
  if (on_libvirt_network(st)) {
    result.service_address = address_of(st);
  }
  result.failures_in_window
    = st.tracker.failures_in_window(self->clock().now());
  result.resources = st.resources.statuses();
  return result;
}

void report_status(self_ptr self) {
  self->send(self->state.parent, caf::update_atom::value, status_of(self));
}

/// Enters the state the table gives for `event` and tells the bus and the
/// deployable, the event's action delayed by `delay`. Every state change goes
/// through here. An impossible transition is a bug in this file: logged, and
/// the state stays as it is (the work goes on: a failed VM is restarted).
void enter(self_ptr self, assembly_event event, std::string reason,
           uint32_t failures = 0, caf::timespan delay = {}) {
  auto& st = self->state;
  auto row = next(st.current, event);
  if (!row) {
    spdlog::error("bug: assembly {}: {} in {}", qualified(st), to_string(event),
                  msg::to_string(st.current));
    return;
  }
  st.current = row->to;
  st.reason = reason;
  auto ev = make_event(st.ctx, st.spec.name, {}, row->to, std::move(reason),
                       restart_action(std::string{row->action}, delay));
  if (delay.count() > 0) {
    // Status says what it waits for while it waits.
    st.reason += " -> " + ev.action;
  }
  ev.failures = failures;
  ev.max_failures = st.tracker.policy().max_failures;
  ev.window = st.tracker.policy().window;
  ev.restarts = st.restarts;
  if (row->to == state::active && st.failed_at) {
    ev.downtime = self->clock().now() - *st.failed_at;
  }
  self->send(st.ctx.bus, caf::publish_atom::value, std::move(ev));
  report_status(self);
}

void spawn_resource(self_ptr self, const msg::resource_spec& spec) {
  auto& st = self->state;
  auto handle = caf::actor_cast<msg::assembly_actor>(self);
  auto child = self->spawn<caf::linked>(resource, spec, st.spec.name, st.ctx,
                                        msg::resource_parent_actor{handle});
  st.resources.add(spec.name, child);
}

void start_domain(self_ptr self);

/// Destroys whatever is left of the domain and starts it again.
void restart_vm(self_ptr self) {
  auto& st = self->state;
  st.now = phase::destroying;
  ++st.restarts;
  auto gen = st.generation;
  self
    ->request(st.ctx.hypervisor, destroy_timeout, msg::destroy_atom::value,
              st.spec.name)
    .then(
      [=](caf::ok_atom) {
        if (gen == self->state.generation) {
          start_domain(self);
        }
      },
      [=](caf::error& err) {
        if (gen != self->state.generation) {
          return;
        }
        // Starting will tell whether the old domain is really in the way.
        spdlog::warn("{}: destroying the VM failed: {}", qualified(self->state),
                     describe(self->system(), err));
        start_domain(self);
      });
}

/// Where the host reaches the services of the guest as it is now.
msg::service_route route_of(const assembly_state& st) {
  msg::service_route r;
  auto& network = st.spec.network;
  if (network == msg::no_network) {
    r.network = false;
  } else if (network.empty() || network == msg::user_network) {
    r.forwarded = true;
    r.address = st.ctx.forward_address;
  } else {
    r.address = address_of(st);
  }
  return r;
}

/// On a libvirt network, a guest without its address serves no client.
bool needs_address(const assembly_state& st) {
  return on_libvirt_network(st) && address_of(st).empty();
}

/// The VM is gone: its addresses with it, and any lease question.
void forget_addresses(assembly_state& st) {
  st.address.forget();
  ++st.lease_round;
}

void on_vm_failure(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  forget_addresses(st);
  auto now = self->clock().now();
  if (!st.failed_at) {
    st.failed_at = now;
  }
  auto d = st.tracker.record_failure(now);
  ++st.generation;
  self->send(st.ctx.gateway, msg::detach_atom::value, st.spec.name);
  // The VM's recovery supersedes whatever the resources were doing.
  st.resources.tell(self, msg::vm_lost_atom::value,
                    "VM of " + st.spec.name + " lost: " + reason);
  if (d.escalate) {
    st.now = phase::idle;
    enter(self, assembly_event::gave_up, reason, d.failures);
    self->send(st.parent, msg::escalate_atom::value, st.spec.name,
               exceeded_reason("assembly " + st.spec.name, d.failures,
                               st.tracker.policy(), reason));
    return;
  }
  enter(self, assembly_event::vm_failed, reason, d.failures, d.delay);
  if (d.delay.count() == 0) {
    restart_vm(self);
  } else {
    st.now = phase::backoff;
    self->delayed_send(self, d.delay, msg::backoff_atom::value, st.generation);
  }
}

void become_active(self_ptr self);
void ask_lease(self_ptr self);

/// ACTIVE now, or, on a libvirt network while the guest has no address yet
/// (no client reaches it), STARTING (or RECOVERING) until the lease comes,
/// still bounded by the boot timeout.
void become_active_once_addressed(self_ptr self) {
  auto& st = self->state;
  if (needs_address(st)) {
    st.now = phase::addressing;
    st.reason = st.hello_reason + ", waiting for an address";
    spdlog::info("{}: {}", qualified(st), st.reason);
    report_status(self);
    return;
  }
  become_active(self);
}

/// A guest without an agent says nothing: its VM runs, so its resources
/// are watched by their ports, once it has an address on a libvirt network
/// (the one libvirt's DHCP server leased to it).
void watch_without_agent(self_ptr self) {
  auto& st = self->state;
  st.hello_reason
    = st.domain.adopted ? "VM adopted, no agent" : "VM running, no agent";
  st.lease_asks = 0;
  ask_lease(self);
  st.resources.tell(self, route_of(st));
  st.resources.tell(self, msg::watch_atom::value, st.domain.adopted,
                    st.spec.boot_timeout);
  become_active_once_addressed(self);
}

void on_domain_started(self_ptr self, msg::domain_info info) {
  auto& st = self->state;
  st.domain = std::move(info);
  st.death_named = false;
  st.now = phase::booting;
  spdlog::info("{}: domain {} (incarnation {}) {}", qualified(st),
               st.domain.domain_name, st.domain.incarnation,
               st.domain.adopted ? "adopted" : "started");
  if (agentless(st)) {
    self->delayed_send(self, st.spec.boot_timeout,
                       msg::boot_timeout_atom::value, st.generation);
    watch_without_agent(self);
    return;
  }
  std::vector<msg::resource_spec> specs = st.spec.resources;
  self->send(
    st.ctx.gateway, msg::attach_atom::value, st.domain, std::move(specs),
    msg::guest_listener_actor{caf::actor_cast<msg::assembly_actor>(self)});
  self->delayed_send(self, st.spec.boot_timeout, msg::boot_timeout_atom::value,
                     st.generation);
  report_status(self);
}

void start_domain(self_ptr self) {
  auto& st = self->state;
  st.now = phase::starting_domain;
  auto gen = st.generation;
  self
    ->request(
      st.ctx.hypervisor, st.spec.boot_timeout, msg::start_atom::value, st.spec,
      msg::domain_listener_actor{caf::actor_cast<msg::assembly_actor>(self)})
    .then(
      [=](msg::domain_info& info) {
        if (gen == self->state.generation) {
          on_domain_started(self, std::move(info));
        }
      },
      [=](caf::error& err) {
        if (gen != self->state.generation) {
          return;
        }
        self->state.now = phase::idle;
        on_vm_failure(self,
                      "VM start failed: " + describe(self->system(), err));
      });
}

void on_address_change(self_ptr self, const std::string& before);

/// Learns the network's subnets while the VM boots (the guest's first
/// address comes seconds later); until then any address is taken.
void ask_subnets(self_ptr self) {
  auto& st = self->state;
  if (!on_libvirt_network(st)) {
    return;
  }
  self
    ->request(st.ctx.hypervisor, std::chrono::seconds(30),
              msg::network_atom::value, st.spec.network)
    .then(
      [=](std::vector<std::string>& subnets) {
        auto& st = self->state;
        auto before = address_of(st);
        st.address.subnets = std::move(subnets);
        on_address_change(self, before);
      },
      [=](caf::error& err) {
        spdlog::warn("{}: the subnets of network {} are unknown ({}): any "
                     "address the guest names is used",
                     qualified(self->state), self->state.spec.network,
                     describe(self->system(), err));
      });
}

void on_lease(self_ptr self, uint64_t round,
              std::optional<std::vector<std::string>> leases,
              const std::string& why);

/// Asks which addresses libvirt's DHCP server leased to the VM: the guest's
/// word is taken only for those.
void ask_lease(self_ptr self) {
  auto& st = self->state;
  if (!on_libvirt_network(st)) {
    return;
  }
  auto round = ++st.lease_round;
  ++st.lease_asks;
  self
    ->request(st.ctx.hypervisor, std::chrono::seconds(30),
              msg::lease_atom::value, st.spec.name)
    .then(
      [=](std::vector<std::string>& leases) {
        on_lease(self, round, std::move(leases), {});
      },
      [=](caf::error& err) {
        on_lease(self, round, std::nullopt, describe(self->system(), err));
      });
}

bool is_current(self_ptr self, const std::string& assembly,
                uint64_t incarnation) {
  auto& st = self->state;
  return assembly == st.spec.name && st.domain.incarnation != 0
         && incarnation == st.domain.incarnation;
}

/// The VM runs and nothing is in flight: failures count from here on.
bool is_running(self_ptr self) {
  auto& st = self->state;
  return st.now == phase::idle && st.current == state::active;
}

/// The agent is up and its resources are starting or running.
bool agent_up(self_ptr self) {
  return is_running(self) || self->state.now == phase::addressing;
}

/// The guest is ready: ACTIVE.
void become_active(self_ptr self) {
  auto& st = self->state;
  ++st.generation; // cancels the boot timeout
  st.now = phase::idle;
  auto reason
    = st.failed_at
        ? "VM restarted in "
            + msg::format_duration(self->clock().now() - *st.failed_at)
        : st.hello_reason;
  if (auto address = address_of(st);
      !address.empty() && on_libvirt_network(st)) {
    reason += ", address " + address;
  }
  enter(self, assembly_event::hello, reason);
  st.failed_at.reset();
}

void on_hello(self_ptr self, const msg::agent_hello& hello) {
  auto& st = self->state;
  if (!is_current(self, hello.assembly, hello.incarnation)) {
    spdlog::debug("{}: stale hello from incarnation {}", qualified(st),
                  hello.incarnation);
    return;
  }
  st.address.named = hello.addresses;
  st.lease_asks = 0;
  ask_lease(self);
  if (st.now == phase::booting) {
    st.hello_reason = (st.domain.adopted ? "VM adopted, agent " : "agent ")
                      + hello.agent_version + " connected";
    // Resources start now, while the guest may still wait for its lease;
    // in an adopted VM they ran on while pcloudd was away.
    st.resources.tell(self, route_of(st));
    if (st.domain.adopted) {
      st.resources.tell(self, msg::adopt_atom::value);
    } else {
      st.resources.tell(self, msg::start_atom::value);
    }
    become_active_once_addressed(self);
  } else if (agent_up(self)) {
    // The agent reconnected to a guest that kept running: resources went on
    // running in there, so confirm rather than restart them.
    spdlog::info("{}: agent reconnected (boot {})", qualified(st),
                 hello.boot_id);
    report_status(self); // its addresses may be new
    st.resources.tell(self, route_of(st));
    st.resources.tell(self, msg::start_atom::value);
    if (st.now == phase::addressing && !needs_address(st)) {
      become_active(self);
    }
  }
}

void on_addresses(self_ptr self, const msg::agent_addresses& x) {
  auto& st = self->state;
  if (!is_current(self, x.assembly, x.incarnation)
      || x.addresses == st.address.named) {
    return; // stale, or nothing new (a guest may repeat itself)
  }
  spdlog::info("{}: guest addresses now: {}", qualified(st),
               fmt::join(x.addresses, " "));
  auto before = address_of(st);
  st.address.named = x.addresses;
  st.lease_asks = 0;
  ask_lease(self);
  on_address_change(self, before);
}

/// Tells what a new address (or subnet) means: the resources' route, the
/// end of waiting for an address, an event for clients.
void on_address_change(self_ptr self, const std::string& before) {
  auto& st = self->state;
  auto now = address_of(st);
  if (on_libvirt_network(st) && now.empty()
      && st.address.lease != guest_address::lease_state::unknown
      && st.address.claimed().empty()
      && !msg::service_address(st.address.named).empty()) {
    spdlog::warn("{}: the guest names no address in network {} ({}): {} "
                 "not used",
                 qualified(st), st.spec.network,
                 fmt::join(st.address.subnets, " "),
                 fmt::join(st.address.named, " "));
  }
  if (is_running(self) && now != before && on_libvirt_network(st)) {
    // Clients must look elsewhere now: the operator hears of it, though
    // the state stays.
    self->send(st.ctx.bus, caf::publish_atom::value,
               make_event(st.ctx, st.spec.name, {}, st.current,
                          now.empty()
                            ? "address " + before + " lost"
                            : "address now " + now
                                + (before.empty() ? std::string{}
                                                  : " (was " + before + ")")));
  }
  if (!agent_up(self)) {
    report_status(self);
    return;
  }
  st.resources.tell(self, route_of(st));
  if (st.now == phase::addressing && !needs_address(st)) {
    become_active(self);
  } else {
    report_status(self);
  }
}

/// A lease reply: the address is pinned to the leases, or, without them
/// (`leases` nullopt: `why`; a network without DHCP), taken on the guest's
/// word. A claimed address not leased yet is asked about again for a
/// while.
void on_lease(self_ptr self, uint64_t round,
              std::optional<std::vector<std::string>> leases,
              const std::string& why) {
  auto& st = self->state;
  if (round != st.lease_round) {
    return; // the VM went, or newer addresses came
  }
  auto before = address_of(st);
  if (agentless(st)) {
    // Nobody inside names an address: the lease is the guest's word.
    if (leases) {
      st.address.lease = guest_address::lease_state::pinned;
      st.address.named = *leases;
      st.address.leases = std::move(*leases);
    } else if (st.lease_asks == 1) {
      spdlog::warn("{}: no lease to learn the guest's address from ({}); "
                   "asking again",
                   qualified(st), why);
    }
    if (address_of(st).empty() && agent_up(self)) {
      // Its DHCP request comes once it has booted: ask until the boot
      // timeout ends the wait.
      self->delayed_send(self, lease_retry, msg::lease_atom::value, round);
    }
    on_address_change(self, before);
    return;
  }
  if (leases) {
    st.address.lease = guest_address::lease_state::pinned;
    st.address.leases = std::move(*leases);
  } else {
    st.address.lease = guest_address::lease_state::unpinned;
    spdlog::info("{}: the guest's address is taken on its word ({})",
                 qualified(st), why);
  }
  auto claimed = st.address.claimed();
  if (address_of(st).empty() && !claimed.empty() && agent_up(self)) {
    if (st.lease_asks == 1 || st.lease_asks == max_lease_asks) {
      spdlog::warn("{}: the guest names {}, which network {} did not lease "
                   "to it (leases: {}){}",
                   qualified(st), claimed, st.spec.network,
                   fmt::join(st.address.leases, " "),
                   st.lease_asks == max_lease_asks ? ": not used" : "");
    }
    if (st.lease_asks < max_lease_asks) {
      self->delayed_send(self, lease_retry, msg::lease_atom::value, round);
    }
  }
  on_address_change(self, before);
}

void on_child_exit(self_ptr self, const caf::exit_msg& em) {
  auto& st = self->state;
  for (auto& [name, child] : st.resources) {
    if (child.actor.address() == em.source) {
      // A resource actor broke an invariant and died: replace it and let it
      // find the resource's state by starting it again.
      spdlog::error("{}/{}: resource actor died ({}), replacing it",
                    qualified(st), name, self->system().render(em.reason));
      auto spec
        = std::find_if(st.spec.resources.begin(), st.spec.resources.end(),
                       [&](auto& r) { return r.name == name; });
      spawn_resource(self, *spec);
      if (agent_up(self)) {
        auto& fresh = st.resources.find(name)->actor;
        self->send(fresh, route_of(st));
        if (agentless(st)) {
          self->send(fresh, msg::watch_atom::value, st.domain.adopted,
                     st.spec.boot_timeout);
        } else {
          self->send(fresh, msg::start_atom::value);
        }
      }
      return;
    }
  }
  self->quit(em.reason);
}

/// Hands what the agent said of one resource to that resource's actor.
template <class Report>
void to_resource(self_ptr self, const Report& rep) {
  auto& st = self->state;
  if (!is_current(self, rep.assembly, rep.incarnation) || !agent_up(self)) {
    return;
  }
  auto* child = st.resources.find(rep.resource);
  if (child == nullptr) {
    spdlog::warn("{}: report for unknown resource '{}' dropped", qualified(st),
                 rep.resource);
    return;
  }
  self->send(child->actor, rep);
}

} // namespace

msg::assembly_actor::behavior_type
assembly(msg::assembly_actor::stateful_pointer<assembly_state> self,
         msg::assembly_spec spec, tree_context ctx,
         msg::assembly_parent_actor parent) {
  auto& st = self->state;
  st.tracker
    = restart_tracker{spec.escalation.value_or(msg::default_assembly_policy())};
  st.spec = std::move(spec);
  st.ctx = std::move(ctx);
  st.parent = std::move(parent);
  for (auto& r : st.spec.resources) {
    spawn_resource(self, r);
  }
  self->set_exit_handler(
    [=](const caf::exit_msg& em) { on_child_exit(self, em); });
  return {
    [=](const msg::agent_hello& hello) { on_hello(self, hello); },
    [=](const msg::agent_addresses& x) { on_addresses(self, x); },
    [=](const msg::agent_gone& gone) {
      if (is_current(self, gone.assembly, gone.incarnation) && agent_up(self)) {
        on_vm_failure(self, "agent link lost: " + gone.reason);
      }
    },
    [=](const msg::resource_report& rep) { to_resource(self, rep); },
    [=](const msg::probe_report& rep) { to_resource(self, rep); },
    [=](const msg::domain_event& ev) {
      auto& st = self->state;
      if (ev.requested || !msg::is_death(ev.kind)
          || !is_current(self, ev.assembly, ev.incarnation)) {
        return;
      }
      auto what = "VM " + msg::to_string(ev.kind)
                  + (ev.reason.empty() ? "" : ": " + ev.reason);
      if (agent_up(self) || st.now == phase::booting) {
        st.death_named = true;
        on_vm_failure(self, what);
      } else if (st.failed_at && !st.death_named) {
        st.death_named = true;
        // A faster signal (the agent link closing) started this recovery;
        // libvirt's word on the same death comes after it and names the
        // cause: `virsh destroy` reads as destroyed, not as an agent crash.
        self->send(
          st.ctx.bus, caf::publish_atom::value,
          make_event(st.ctx, st.spec.name, {}, st.current, "libvirt: " + what));
      }
    },
    [=](msg::escalate_atom, const std::string&, const std::string& reason) {
      if (agent_up(self)) {
        on_vm_failure(self, reason);
      }
    },
    [=](caf::update_atom, msg::resource_status status) {
      if (self->state.resources.update(std::move(status))) {
        report_status(self);
      }
    },
    [=](msg::start_atom) {
      auto& st = self->state;
      if (st.current != state::stopped && st.current != state::failed) {
        return;
      }
      ++st.generation;
      st.tracker.reset();
      st.failed_at.reset();
      enter(self, assembly_event::start, "start requested");
      ask_subnets(self);
      start_domain(self);
    },
    [=](msg::restart_atom, const std::string& reason) {
      auto& st = self->state;
      if (st.now == phase::stopping) {
        return;
      }
      ++st.generation;
      st.tracker.reset();
      if (!st.failed_at) {
        st.failed_at = self->clock().now();
      }
      self->send(st.ctx.gateway, msg::detach_atom::value, st.spec.name);
      forget_addresses(st);
      st.resources.tell(self, msg::vm_lost_atom::value, reason);
      enter(self, assembly_event::restart, reason);
      restart_vm(self);
    },
    [=](msg::stop_atom) {
      auto& st = self->state;
      if (st.now == phase::stopping
          || (st.current == state::stopped && st.now == phase::idle)) {
        return;
      }
      ++st.generation;
      st.now = phase::stopping;
      st.failed_at.reset();
      self->send(st.ctx.gateway, msg::detach_atom::value, st.spec.name);
      st.resources.tell(self, msg::stop_atom::value);
      auto gen = st.generation;
      self
        ->request(st.ctx.hypervisor, st.spec.stop_timeout + destroy_timeout,
                  msg::shutdown_atom::value, st.spec.name, st.spec.stop_timeout)
        .then(
          [=](caf::ok_atom) {
            auto& st = self->state;
            if (gen != st.generation) {
              return;
            }
            st.now = phase::idle;
            st.domain = msg::domain_info{};
            forget_addresses(st);
            enter(self, assembly_event::shut_down, "stopped on request");
          },
          [=](caf::error& err) {
            auto& st = self->state;
            if (gen != st.generation) {
              return;
            }
            st.now = phase::idle;
            enter(self, assembly_event::stop_failed,
                  "could not stop VM: " + describe(self->system(), err));
          });
    },
    [=](caf::get_atom) { return status_of(self); },
    [=](msg::backoff_atom, uint64_t gen) {
      auto& st = self->state;
      if (gen == st.generation && st.now == phase::backoff) {
        restart_vm(self);
      }
    },
    [=](msg::lease_atom, uint64_t round) {
      if (round == self->state.lease_round && agent_up(self)) {
        ask_lease(self);
      }
    },
    [=](msg::boot_timeout_atom, uint64_t gen) {
      auto& st = self->state;
      if (gen != st.generation) {
        return;
      }
      if (st.now == phase::booting) {
        st.now = phase::idle;
        on_vm_failure(self, "agent did not say hello within "
                              + msg::format_duration(st.spec.boot_timeout));
      } else if (st.now == phase::addressing) {
        st.now = phase::idle;
        on_vm_failure(self, "no address on network " + st.spec.network
                              + " within "
                              + msg::format_duration(st.spec.boot_timeout));
      }
    },
  };
}

} // namespace pcloud::actors
