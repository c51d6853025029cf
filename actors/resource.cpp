// actors/resource.cpp -- keeps one resource inside one guest running.
//
//   STOPPED --start--> STARTING --running--> ACTIVE
//   ACTIVE --failed--> RECOVERING --backoff--> restart --running--> ACTIVE
//   RECOVERING --start_failed--> counted as another failure
//   STARTING --stopped--> ignored: the agent's probe, the start follows
//   RECOVERING --failed--> ignored: a restart is already in progress
//   any --more than N failures in T--> FAILED, escalates to the assembly
//   any --vm_lost--> RECOVERING, waits for the VM; --start--> as above
//   any --stop--> STOPPED
#include "actors/resource.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace pcloud::actors {

namespace {

using self_ptr = msg::resource_actor::stateful_pointer<resource_state>;
using msg::state;

msg::resource_status status_of(const resource_state& st,
                               caf::actor_clock::time_point now) {
  return {st.resource,
          st.current,
          st.reason,
          st.restarts,
          st.tracker.failures_in_window(now),
          st.probe,
          st.probe_at_ms};
}

/// Enters `next` and tells the bus and the assembly. Every state change goes
/// through here.
void transition(self_ptr self, state next, std::string reason,
                std::string action = {}, uint32_t failures = 0) {
  auto& st = self->state;
  st.current = next;
  st.reason = reason;
  auto ev = make_event(st.ctx, st.assembly, st.resource, next,
                       std::move(reason), std::move(action));
  ev.failures = failures;
  ev.max_failures = st.tracker.policy().max_failures;
  ev.window = st.tracker.policy().window;
  ev.restarts = st.restarts;
  if (next == state::active && st.failed_at) {
    ev.downtime = self->clock().now() - *st.failed_at;
  }
  self->send(st.ctx.bus, caf::publish_atom::value, std::move(ev));
  self->send(st.parent, caf::update_atom::value,
             status_of(st, self->clock().now()));
}

void send_command(self_ptr self, msg::resource_operation op) {
  auto& st = self->state;
  self->send(st.ctx.gateway,
             msg::resource_command{st.assembly, st.resource, op});
}

/// Drops whatever recovery was pending, timers included.
void cancel_recovery(self_ptr self) {
  auto& st = self->state;
  st.pending = resource_state::recovery::none;
  ++st.generation;
}

/// A new run of the resource has no verdict of its probe yet.
void forget_probe(resource_state& st) {
  st.probe.clear();
  st.probe_at_ms = 0;
}

void restart_now(self_ptr self) {
  auto& st = self->state;
  forget_probe(st);
  st.pending = resource_state::recovery::restarting;
  ++st.restarts;
  send_command(self, msg::resource_operation::restart);
}

void on_failure(self_ptr self, const std::string& cause) {
  auto& st = self->state;
  if (st.pending != resource_state::recovery::none) {
    // A restart (or the VM's recovery) is already under way: the same
    // failure seen again must not restart the resource twice.
    spdlog::debug("{}/{}/{}: {} while recovering, ignored", st.ctx.deployable,
                  st.assembly, st.resource, cause);
    return;
  }
  auto now = self->clock().now();
  if (!st.failed_at) {
    st.failed_at = now;
  }
  auto d = st.tracker.record_failure(now);
  if (d.escalate) {
    transition(self, state::failed, cause,
               "escalating to assembly " + st.assembly, d.failures);
    self->send(st.parent, msg::escalate_atom::value, st.resource,
               exceeded_reason("resource " + st.resource, d.failures,
                               st.tracker.policy(), cause));
    // Waits for the assembly: vm_lost, then start.
    st.pending = resource_state::recovery::vm;
    return;
  }
  auto action = restart_action("restarting", d.delay);
  transition(self, state::recovering, cause, action, d.failures);
  if (d.delay.count() == 0) {
    restart_now(self);
  } else {
    // Status says what it waits for while it waits.
    st.reason += " -> " + action;
    self->send(st.parent, caf::update_atom::value,
               status_of(st, self->clock().now()));
    st.pending = resource_state::recovery::backoff;
    self->delayed_send(self, d.delay, msg::backoff_atom::value, st.generation);
  }
}

void on_running(self_ptr self, const std::string& cause) {
  auto& st = self->state;
  switch (st.current) {
  case state::starting:
    transition(self, state::active, cause.empty() ? "started" : cause);
    break;
  case state::recovering:
    if (st.pending == resource_state::recovery::backoff) {
      // It came back by itself (a monitor found it healthy again): the
      // pending restart is no longer needed.
      ++st.generation;
    }
    st.pending = resource_state::recovery::none;
    transition(
      self, state::active,
      "restarted in "
        + msg::format_duration(self->clock().now()
                               - st.failed_at.value_or(self->clock().now())));
    st.failed_at.reset();
    break;
  default:
    // A probe confirming what is known, or a report for a resource that is
    // not meant to run (the VM is going down): nothing to do.
    break;
  }
}

void on_report(self_ptr self, const msg::resource_report& rep) {
  auto& st = self->state;
  switch (rep.condition) {
  case msg::resource_condition::running:
    on_running(self, rep.cause);
    return;
  case msg::resource_condition::start_failed:
    // The result of our own (re)start: counts even while restarting.
    if (st.pending == resource_state::recovery::restarting) {
      st.pending = resource_state::recovery::none;
    }
    if (st.current == state::starting || st.current == state::recovering
        || st.current == state::active) {
      on_failure(self, "start failed: " + rep.cause);
    }
    return;
  case msg::resource_condition::failed:
    if (st.current == state::active || st.current == state::starting) {
      on_failure(self, rep.cause.empty() ? "failed" : rep.cause);
    }
    return;
  case msg::resource_condition::stopped:
    // While starting, "stopped" is the agent's probe answering before the
    // start is done: not yet running is no failure.
    if (st.current == state::active) {
      auto cause = rep.cause.empty() ? "stopped unexpectedly" : rep.cause;
      on_failure(self, cause);
    }
    return;
  }
}

/// Keeps the probe's verdict for status and says in the log when it turns;
/// the failure itself comes as a report once the agent has killed the
/// resource.
void on_probe(self_ptr self, const msg::probe_report& rep) {
  auto& st = self->state;
  auto name = st.ctx.deployable + "/" + st.assembly + "/" + st.resource;
  if (rep.ok) {
    if (!st.probe.empty() && st.probe.rfind("ok", 0) != 0) {
      spdlog::info("{}: probe passes again ({})", name, rep.detail);
    }
    st.probe = "ok: " + rep.detail;
  } else {
    st.probe = "failing " + std::to_string(rep.failures) + "/"
               + std::to_string(st.probe_failures) + ": " + rep.detail;
    spdlog::warn("{}: probe {}", name, st.probe);
  }
  st.probe_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     caf::make_timestamp().time_since_epoch())
                     .count();
  self->send(st.parent, caf::update_atom::value,
             status_of(st, self->clock().now()));
}

} // namespace

msg::resource_actor::behavior_type
resource(msg::resource_actor::stateful_pointer<resource_state> self,
         msg::resource_spec spec, std::string assembly, tree_context ctx,
         msg::resource_parent_actor parent) {
  auto& st = self->state;
  st.tracker
    = restart_tracker{spec.escalation.value_or(msg::default_resource_policy())};
  st.resource = std::move(spec.name);
  st.probe_failures = spec.probe.kind.empty() ? 0 : spec.probe.failures;
  st.assembly = std::move(assembly);
  st.ctx = std::move(ctx);
  st.parent = std::move(parent);
  return {
    [=](msg::start_atom) {
      auto& st = self->state;
      if (st.current == state::active || st.current == state::starting) {
        // The agent reconnected: ask again, the agent answers with the state.
        send_command(self, msg::resource_operation::start);
        return;
      }
      cancel_recovery(self);
      if (st.current == state::stopped) {
        transition(self, state::starting, "agent ready", "starting");
      } else {
        transition(self, state::recovering, "VM is back", "starting");
      }
      send_command(self, msg::resource_operation::start);
    },
    [=](msg::stop_atom) {
      cancel_recovery(self);
      forget_probe(self->state);
      self->state.failed_at.reset();
      if (self->state.current != state::stopped) {
        transition(self, state::stopped, "VM stopping");
      }
    },
    [=](msg::vm_lost_atom, std::string reason) {
      auto& st = self->state;
      cancel_recovery(self);
      forget_probe(st);
      st.pending = resource_state::recovery::vm;
      // The VM's restart is a fresh start for the resource's intensity.
      st.tracker.reset();
      if (st.current == state::stopped) {
        return;
      }
      if (!st.failed_at) {
        st.failed_at = self->clock().now();
      }
      transition(self, state::recovering, std::move(reason), "waiting for VM");
    },
    [=](const msg::resource_report& rep) { on_report(self, rep); },
    [=](const msg::probe_report& rep) { on_probe(self, rep); },
    [=](msg::backoff_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.generation
          || st.pending != resource_state::recovery::backoff) {
        return; // superseded
      }
      restart_now(self);
    },
  };
}

} // namespace pcloud::actors
