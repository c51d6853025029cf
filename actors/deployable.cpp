// actors/deployable.cpp -- applies the deployable policy.
//
// Its state follows the table in actors/deployable_machine.cpp (a test keeps
// this diagram equal to it):
//
//   any --start--> STARTING
//   STARTING, RECOVERING --all_active--> ACTIVE
//   ACTIVE --degraded--> RECOVERING
//   STARTING, ACTIVE, RECOVERING --escalated--> RECOVERING
//   STARTING, ACTIVE, RECOVERING --limit_reached--> FAILED
//   STARTING, ACTIVE, RECOVERING --policy_stop--> FAILED
//   STARTING, ACTIVE, RECOVERING, FAILED --all_stopped--> STOPPED
//
// all_active, degraded and all_stopped come from its children's states after
// every update, except in FAILED, which stays until the operator starts or
// stops it. escalated restarts every assembly (further escalations until all
// are ACTIVE again are ignored); limit_reached and policy_stop stop them all.
// stop stops them all: all_stopped follows.
#include "actors/deployable.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/assembly.hpp"
#include "actors/deployable_machine.hpp"
#include "actors/level.hpp"

namespace pcloud::actors {

namespace {

using self_ptr = msg::deployable_actor::stateful_pointer<deployable_state>;
using msg::state;

msg::deployable_status status_of(const deployable_state& st) {
  msg::deployable_status result;
  result.name = st.spec.name;
  result.state = st.current;
  result.reason = st.reason;
  result.restarts = st.restarts;
  result.assemblies = st.assemblies.statuses();
  return result;
}

/// Enters the state the table gives for `event` and tells the bus. Every
/// state change goes through here. An impossible transition is a bug in this
/// file: logged, and the state stays as it is.
void enter(self_ptr self, deployable_event event, std::string reason,
           uint32_t failures = 0) {
  auto& st = self->state;
  auto row = next(st.current, event);
  if (!row) {
    spdlog::error("bug: deployable {}: {} in {}", st.spec.name,
                  to_string(event), msg::to_string(st.current));
    return;
  }
  st.current = row->to;
  st.reason = reason;
  auto ev = make_event(st.ctx, {}, {}, row->to, std::move(reason),
                       std::string{row->action});
  ev.failures = failures;
  ev.max_failures = st.spec.policy == msg::deployable_policy::restart_all
                      ? st.spec.max_restarts
                      : 0;
  ev.window = st.spec.restart_window;
  ev.restarts = st.restarts;
  self->send(st.ctx.bus, caf::publish_atom::value, std::move(ev));
}

/// Derives the deployable's state from its children's after every update.
void reconcile(self_ptr self) {
  auto& st = self->state;
  if (st.gave_up) {
    return; // FAILED until the operator starts or stops it
  }
  if (!st.wanted) {
    if (st.current != state::stopped && level::all_stopped(st.assemblies)) {
      enter(self, deployable_event::all_stopped, "all assemblies stopped");
    }
    return;
  }
  if (level::all_active(st.assemblies)) {
    if (st.current != state::active) {
      st.restarting_all = false;
      enter(self, deployable_event::all_active,
            "all " + std::to_string(st.assemblies.size())
              + " assemblies active");
    }
  } else if (st.current == state::active) {
    enter(self, deployable_event::degraded,
          level::first_not_active(st.assemblies));
  }
}

void give_up(self_ptr self, deployable_event event, std::string reason,
             uint32_t failures = 0) {
  auto& st = self->state;
  st.wanted = false;
  st.gave_up = true;
  st.restarting_all = false;
  enter(self, event, std::move(reason), failures);
  st.assemblies.tell(self, msg::stop_atom::value);
}

void on_escalation(self_ptr self, const std::string& assembly,
                   const std::string& reason) {
  auto& st = self->state;
  if (!st.wanted) {
    return;
  }
  if (st.restarting_all) {
    // Every assembly is being restarted already: one escalation is enough.
    spdlog::info("{}: {} escalated during restart-all, ignored", st.spec.name,
                 assembly);
    return;
  }
  if (st.spec.policy == msg::deployable_policy::stop) {
    give_up(self, deployable_event::policy_stop, reason);
    return;
  }
  auto d = st.tracker.record_failure(self->clock().now());
  if (d.escalate) {
    give_up(self, deployable_event::limit_reached, reason, d.failures);
    return;
  }
  st.restarting_all = true;
  ++st.restarts;
  enter(self, deployable_event::escalated, reason, d.failures);
  st.assemblies.tell(self, msg::restart_atom::value,
                     "deployable " + st.spec.name + " restart-all");
}

msg::escalation_policy deployable_limit(const msg::deployable_spec& spec) {
  auto result = msg::no_escalation_policy();
  result.max_failures = spec.max_restarts;
  result.window = spec.restart_window;
  return result;
}

} // namespace

msg::deployable_spec resolve_defaults(msg::deployable_spec spec) {
  for (auto& a : spec.assemblies) {
    if (!a.escalation) {
      a.escalation = spec.assembly_escalation;
    }
    for (auto& r : a.resources) {
      if (!r.escalation) {
        r.escalation = spec.resource_escalation;
      }
    }
  }
  return spec;
}

msg::deployable_actor::behavior_type
deployable(msg::deployable_actor::stateful_pointer<deployable_state> self,
           msg::deployable_spec spec, tree_context services) {
  auto& st = self->state;
  st.spec = resolve_defaults(std::move(spec));
  st.tracker = restart_tracker{deployable_limit(st.spec)};
  st.ctx = std::move(services);
  st.ctx.deployable = st.spec.name;
  auto handle = caf::actor_cast<msg::deployable_actor>(self);
  for (auto& a : st.spec.assemblies) {
    auto child = self->spawn<caf::linked>(assembly, a, st.ctx,
                                          msg::assembly_parent_actor{handle});
    st.assemblies.add(a.name, child);
  }
  // The assemblies hold their own specs; the deployable keeps only its own
  // settings (one tree holds thousands of resources, so copies add up).
  st.spec.assemblies.clear();
  st.spec.assemblies.shrink_to_fit();
  self->set_exit_handler([=](const caf::exit_msg& em) {
    // An assembly actor only dies by a bug; the tree then goes down as one
    // and the daemon's supervisor brings it back (adopting the VMs).
    self->quit(em.reason);
  });
  return {
    [=](msg::escalate_atom, const std::string& assembly,
        const std::string& reason) { on_escalation(self, assembly, reason); },
    [=](caf::update_atom, msg::assembly_status status) {
      if (self->state.assemblies.update(std::move(status))) {
        reconcile(self);
      }
    },
    [=](msg::start_atom) {
      auto& st = self->state;
      if (st.wanted) {
        return;
      }
      st.wanted = true;
      st.gave_up = false;
      st.tracker.reset();
      enter(self, deployable_event::start,
            "starting " + std::to_string(st.assemblies.size()) + " assemblies");
      st.assemblies.tell(self, msg::start_atom::value);
      reconcile(self);
    },
    [=](msg::stop_atom) {
      auto& st = self->state;
      st.wanted = false;
      st.gave_up = false;
      st.restarting_all = false;
      st.assemblies.tell(self, msg::stop_atom::value);
      reconcile(self);
    },
    [=](caf::get_atom) { return status_of(self->state); },
  };
}

} // namespace pcloud::actors
