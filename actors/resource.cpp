// actors/resource.cpp -- keeps one resource inside one guest running.
//
//   STOPPED --start--> STARTING --running--> ACTIVE
//   STOPPED --adopt--> STARTING --running--> ACTIVE ("adopted")
//   ACTIVE --failed--> RECOVERING --backoff--> restart --running--> ACTIVE
//   RECOVERING --start_failed--> counted as another failure
//   STARTING --stopped--> ignored: the agent's probe, the start follows
//   RECOVERING --failed--> ignored: a restart is already in progress
//   any --more than N failures in T--> FAILED, escalates to the assembly
//   any --vm_lost--> RECOVERING, waits for the VM; --start--> as above
//   any --stop--> STOPPED
//
// Without an agent in the guest (`watch` instead of `start`), the host's
// checks of its port are all there is: STARTING until it answers, then
// ACTIVE while it keeps answering (a check every probe interval); a start
// that never answers or checks failing past the threshold are the VM's to
// recover (escalated at once: nobody inside could restart it).
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

/// Stops waiting for the service to answer; its checks and timers are
/// ignored from here on.
void stop_reaching(resource_state& st) {
  st.reaching = false;
  st.watching = false;
  ++st.reach_id;
}

/// Drops whatever recovery was pending, timers included.
void cancel_recovery(self_ptr self) {
  auto& st = self->state;
  st.pending = resource_state::recovery::none;
  ++st.generation;
  stop_reaching(st);
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
  stop_reaching(st);
  if (st.agentless && st.pending == resource_state::recovery::none) {
    auto now = self->clock().now();
    if (!st.failed_at) {
      st.failed_at = now;
    }
    transition(self, state::failed, cause,
               "restarting the VM of " + st.assembly + " (no agent in it)");
    self->send(st.parent, msg::escalate_atom::value, st.resource,
               "resource " + st.resource + ": " + cause);
    st.pending = resource_state::recovery::vm;
    return;
  }
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

/// The service runs and, where the host checks it, answers: ACTIVE.
/// `reached` says where it answered ("" when not checked).
void become_active(self_ptr self, const std::string& reached) {
  auto& st = self->state;
  if (st.current == state::starting) {
    auto why = st.ready_cause.empty() ? "started" : st.ready_cause;
    if (st.adopting) {
      // It ran before this pcloudd: the agent's word is how it was.
      why = "adopted (agent: " + why + ")";
      st.adopting = false;
    }
    transition(self, state::active,
               reached.empty() ? why : why + "; answers at " + reached);
    return;
  }
  transition(
    self, state::active,
    "restarted in "
      + msg::format_duration(self->clock().now()
                             - st.failed_at.value_or(self->clock().now())));
  st.failed_at.reset();
}

/// How long the host waits for a check's result before it asks again: the
/// prober answers within the check's timeout unless it is gone.
constexpr auto reach_grace = std::chrono::seconds(1);

/// Between checks of a service that does not answer yet.
constexpr auto reach_retry = std::chrono::milliseconds(250);

/// The port the host reaches the service at: its forward, or the guest's.
uint16_t reach_port_number(const resource_state& st) {
  return st.route.forwarded ? st.reach_port->host_port
                            : st.reach_port->guest_port;
}

/// "10.0.0.5:80" (the guest port), "127.0.0.1:20080" (the forward).
std::string reach_target(const resource_state& st) {
  auto host = st.route.address.find(':') == std::string::npos
                ? st.route.address
                : "[" + st.route.address + "]";
  return host + ":" + std::to_string(reach_port_number(st));
}

/// Says in status what ACTIVE waits for, without an event: the state is
/// the same, only what it waits for changed.
void waiting_for(self_ptr self, std::string what) {
  auto& st = self->state;
  if (st.reason == what) {
    return;
  }
  st.reason = std::move(what);
  self->send(st.parent, caf::update_atom::value,
             status_of(st, self->clock().now()));
}

/// Sends one check of the port (id: reach_id) and a timer in case its
/// result never comes.
void send_check(self_ptr self) {
  auto& st = self->state;
  msg::reach_check check;
  check.id = st.reach_id;
  check.address = st.route.address;
  check.port = reach_port_number(st);
  check.forwarded = st.route.forwarded;
  check.probe = st.reach_probe;
  self->send(st.ctx.prober, std::move(check),
             caf::actor_cast<msg::reach_listener_actor>(self));
  self->delayed_send(self, st.reach_probe.timeout + reach_grace,
                     msg::reach_atom::value, st.reach_id);
}

/// Asks the prober whether the service answers where clients reach it.
void check_reach(self_ptr self) {
  auto& st = self->state;
  ++st.reach_id;
  if (st.route.address.empty()) {
    // The assembly sends the route when the guest has its address (its
    // boot timeout bounds the wait).
    waiting_for(self, "waiting for an address");
    return;
  }
  if (self->clock().now() - st.reach_since >= st.reach_limit) {
    on_failure(self, "start failed: not reachable from the host within "
                       + msg::format_duration(st.reach_limit) + " ("
                       + st.reach_detail + ")");
    return;
  }
  send_check(self);
}

bool checked_from_host(const resource_state& st) {
  return st.reach_port && st.ctx.prober && st.route.network
         && (!st.route.forwarded || st.reach_port->host_port != 0);
}

/// Keeps a check's verdict for status ("ok: status 200", "failing 2/3:
/// connection refused") and says in the log when it turns or fails.
void keep_verdict(resource_state& st, const char* what, bool ok,
                  uint32_t failures, uint32_t threshold,
                  const std::string& detail) {
  auto name = st.ctx.deployable + "/" + st.assembly + "/" + st.resource;
  if (ok) {
    if (!st.probe.empty() && st.probe.rfind("ok", 0) != 0) {
      spdlog::info("{}: {} passes again ({})", name, what, detail);
    }
    st.probe = "ok: " + detail;
  } else {
    st.probe = "failing " + std::to_string(failures) + "/"
               + std::to_string(threshold) + ": " + detail;
    spdlog::warn("{}: {} {}", name, what, st.probe);
  }
  st.probe_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     caf::make_timestamp().time_since_epoch())
                     .count();
}

/// Agentless and ACTIVE: checks the port again after the probe interval.
void watch_later(self_ptr self) {
  auto& st = self->state;
  st.watching = true;
  ++st.reach_id;
  self->delayed_send(self, st.reach_probe.interval, msg::reach_atom::value,
                     st.reach_id);
}

void on_watch_result(self_ptr self, const msg::reach_result& r) {
  auto& st = self->state;
  st.watch_failures = r.ok ? 0 : st.watch_failures + 1;
  keep_verdict(st, "host check", r.ok, st.watch_failures,
               st.reach_probe.failures, r.detail);
  if (st.watch_failures >= st.reach_probe.failures) {
    on_failure(self, "no answer at " + reach_target(st) + " "
                       + std::to_string(st.watch_failures) + " times in a row ("
                       + r.detail + ")");
    return;
  }
  self->send(st.parent, caf::update_atom::value,
             status_of(st, self->clock().now()));
  watch_later(self);
}

void on_reach_result(self_ptr self, const msg::reach_result& r) {
  auto& st = self->state;
  if (st.watching && r.id == st.reach_id) {
    on_watch_result(self, r);
    return;
  }
  if (!st.reaching || r.id != st.reach_id) {
    return; // superseded
  }
  auto target = reach_target(st);
  if (r.ok) {
    stop_reaching(st);
    spdlog::info("{}/{}/{}: answers at {} ({})", st.ctx.deployable, st.assembly,
                 st.resource, target, r.detail);
    become_active(self, target);
    if (st.agentless) {
      st.watch_failures = 0;
      watch_later(self);
    }
    return;
  }
  st.reach_detail = r.detail;
  waiting_for(self, "waiting for port "
                      + std::to_string(st.reach_port->guest_port) + " at "
                      + target + " (" + r.detail + ")");
  ++st.reach_id;
  self->delayed_send(self, reach_retry, msg::reach_atom::value, st.reach_id);
}

/// The service is up as far as the host can tell: wait until it answers
/// where clients reach it (ACTIVE at once where nothing is checked).
void await_answer(self_ptr self) {
  auto& st = self->state;
  if (!checked_from_host(st)) {
    become_active(self, {});
  } else if (!st.reaching) {
    // Running in the guest is not yet reachable by a client: the guest
    // may have no address yet, or the way to it may not be up.
    st.reaching = true;
    st.reach_since = self->clock().now();
    st.reach_detail.clear();
    check_reach(self);
  }
}

void on_running(self_ptr self, const std::string& cause) {
  auto& st = self->state;
  if (st.current != state::starting && st.current != state::recovering) {
    // A probe confirming what is known, or a report for a resource that is
    // not meant to run (the VM is going down): nothing to do.
    return;
  }
  if (st.current == state::recovering) {
    if (st.pending == resource_state::recovery::backoff) {
      // It came back by itself (a monitor found it healthy again): the
      // pending restart is no longer needed.
      ++st.generation;
    }
    st.pending = resource_state::recovery::none;
  }
  st.ready_cause = cause;
  await_answer(self);
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
    // While the host checks it, the restart is over: a failure is new.
    if (st.current == state::active || st.current == state::starting
        || st.reaching) {
      on_failure(self, rep.cause.empty() ? "failed" : rep.cause);
    }
    return;
  case msg::resource_condition::stopped:
    // While starting, "stopped" is the agent's probe answering before the
    // start is done: not yet running is no failure.
    if (st.current == state::active || st.reaching) {
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
  keep_verdict(st, "probe", rep.ok, rep.failures, st.probe_failures,
               rep.detail);
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
  for (auto& port : spec.ports) {
    if (port.protocol == "tcp") {
      st.reach_port = port;
      break;
    }
  }
  if (st.reach_port) {
    bool http = spec.probe.kind == "http"
                && spec.probe.port == st.reach_port->guest_port;
    if (http) {
      st.reach_probe = spec.probe;
    } else {
      st.reach_probe.kind = "tcp";
    }
  }
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
    [=](msg::adopt_atom) {
      auto& st = self->state;
      if (st.current != state::stopped) {
        // Under watch already (a second hello): as a start.
        send_command(self, msg::resource_operation::start);
        return;
      }
      cancel_recovery(self);
      st.adopting = true;
      transition(self, state::starting, "VM adopted", "confirming");
      send_command(self, msg::resource_operation::start);
    },
    [=](msg::watch_atom, bool adopted, caf::timespan within) {
      auto& st = self->state;
      st.agentless = true;
      st.reach_limit = within;
      if (st.current == state::active || st.current == state::starting) {
        return; // watched already
      }
      cancel_recovery(self);
      st.ready_cause = adopted ? "VM adopted, no agent" : "no agent";
      if (!checked_from_host(st)) {
        st.ready_cause += ", no port: only its VM is watched";
      } else if (st.route.forwarded && st.reach_probe.kind != "http") {
        // QEMU's user-mode forward accepts (and holds) connections while
        // the guest still boots: only an answer tells.
        spdlog::warn("{}/{}/{}: without an agent and an http probe, a "
                     "connect through the port forward only proves QEMU's "
                     "end; give it an http probe",
                     st.ctx.deployable, st.assembly, st.resource);
      }
      if (st.current == state::stopped) {
        transition(self, state::starting,
                   adopted ? "VM adopted, no agent" : "VM running, no agent",
                   "waiting for its port");
      } else {
        transition(self, state::recovering, "VM is back",
                   "waiting for its port");
      }
      await_answer(self);
    },
    [=](msg::stop_atom) {
      cancel_recovery(self);
      self->state.adopting = false;
      forget_probe(self->state);
      self->state.failed_at.reset();
      if (self->state.current != state::stopped) {
        transition(self, state::stopped, "VM stopping");
      }
    },
    [=](msg::vm_lost_atom, std::string reason) {
      auto& st = self->state;
      cancel_recovery(self);
      st.adopting = false;
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
    [=](const msg::reach_result& r) { on_reach_result(self, r); },
    [=](msg::service_route route) {
      auto& st = self->state;
      if (route == st.route) {
        return;
      }
      st.route = std::move(route);
      if (st.reaching) {
        // A new address: ask there, with the whole deadline.
        st.reach_since = self->clock().now();
        check_reach(self);
      }
    },
    [=](msg::reach_atom, uint64_t id) {
      auto& st = self->state;
      if (st.reaching && id == st.reach_id) {
        check_reach(self);
      } else if (st.watching && id == st.reach_id) {
        send_check(self);
      }
    },
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
