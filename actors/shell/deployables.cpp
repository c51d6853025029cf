// The shell service's deployable commands: define deployables and their
// escalation limits, start and stop their actors, and gather their status.
#include "actors/shell/handlers.hpp"

#include <algorithm>
#include <functional>
#include <memory>

#include <caf/all.hpp>

#include "actors/deployable.hpp"

namespace pcloud::actors::shell {

namespace {

using msg::errc;

reply escalation_set(self_ptr self, args a, bool resources) {
  return edit_deployable(
    self, a[0],
    [a, resources](msg::deployable_definition& d, std::string& message) {
      return apply_escalation(d, resources, a[1], a[2],
                              a.size() > 3 ? a[3] : std::string{}, message);
    });
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

/// Saves deployable `before` as running or not before anything else
/// happens (a pcloudd killed right after a start adopts its VMs); then runs
/// `saved` with the reply to give. A failed write puts `before` back and
/// answers `prefix` with the store's error.
reply save_running(self_ptr self, msg::deployable_definition before,
                   bool running, std::string prefix,
                   std::function<void(reply_promise)> saved) {
  auto after = before;
  after.running = running;
  self->state.defs.deployables[after.name] = after;
  auto rp = self->make_response_promise<msg::shell_reply>();
  self
    ->request(self->state.services.store, store_timeout, caf::put_atom::value,
              after)
    .then([rp, saved](caf::ok_atom) mutable { saved(rp); },
          [self, rp, before, prefix](const caf::error& err) mutable {
            self->state.defs.deployables[before.name] = before;
            rp.deliver(failed(err, prefix));
          });
  return rp;
}

} // namespace

void launch(self_ptr self, const msg::deployable_spec& spec) {
  auto& st = self->state;
  if (auto i = st.running.find(spec.name); i != st.running.end()) {
    // The stopped actor of an earlier run; its exit is not an error.
    self->unlink_from(i->second);
    self->send_exit(i->second, caf::exit_reason::user_shutdown);
  }
  auto& s = st.services;
  tree_context services{
    {},        s.bus,    s.hypervisor,
    s.gateway, s.prober, msg::client_address(s.network.forward_address)};
  auto dep = self->spawn<caf::linked>(deployable, spec, std::move(services));
  st.running[spec.name] = dep;
  self->send(dep, msg::start_atom::value);
}

reply escalation_resource_set(self_ptr self, args a) {
  return escalation_set(self, a, true);
}

reply escalation_assembly_set(self_ptr self, args a) {
  return escalation_set(self, a, false);
}

reply deployable_create(self_ptr self, args a) {
  auto& defs = self->state.defs;
  if (auto bad = check_new_name("deployable", a[0])) {
    return failed(bad);
  }
  if (defs.deployables.count(a[0]) > 0) {
    return failed({errc::exists, "deployable '" + a[0] + "' exists already"});
  }
  msg::deployable_definition d;
  d.name = a[0];
  defs.deployables[d.name] = d;
  return persist(
    self, d, [self, name = a[0]] { self->state.defs.deployables.erase(name); },
    "deployable " + a[0] + " created");
}

reply deployable_delete(self_ptr self, args a) {
  auto& st = self->state;
  msg::error err;
  auto* d = find_deployable(st.defs, a[0], err);
  if (d == nullptr) {
    return failed(err);
  }
  if (d->running) {
    return failed(running_error(a[0]));
  }
  auto before = *d;
  st.defs.deployables.erase(a[0]);
  if (auto i = st.running.find(a[0]); i != st.running.end()) {
    self->unlink_from(i->second);
    self->send_exit(i->second, caf::exit_reason::user_shutdown);
    st.running.erase(i);
  }
  return erase(
    self, before,
    [self, before] { self->state.defs.deployables[before.name] = before; },
    "deployable " + a[0] + " deleted (its assemblies remain)");
}

reply deployable_list(self_ptr self, args) {
  return deployable_rows(self->state.defs);
}

reply deployable_assembly_add(self_ptr self, args a) {
  return edit_deployable(
    self, a[0], [self, a](msg::deployable_definition& d, std::string& message) {
      auto& defs = self->state.defs;
      msg::error err;
      if (find_assembly(defs, a[1], err) == nullptr) {
        return err;
      }
      if (auto owner = owner_of(defs, a[1]); !owner.empty()) {
        return msg::error{errc::in_use, "assembly '" + a[1]
                                          + "' belongs to deployable '" + owner
                                          + "' already (an assembly is one VM; "
                                            "assembly_clone makes another)"};
      }
      if (d.running) {
        return running_error(a[0]);
      }
      d.assemblies.push_back(a[1]);
      message = "assembly " + a[1] + " added to " + a[0];
      return msg::error{};
    });
}

reply deployable_assembly_remove(self_ptr self, args a) {
  return edit_deployable(
    self, a[0], [a](msg::deployable_definition& d, std::string& message) {
      auto& xs = d.assemblies;
      auto i = std::find(xs.begin(), xs.end(), a[1]);
      if (i == xs.end()) {
        return msg::error{errc::not_found, "deployable '" + a[0]
                                             + "' has no assembly '" + a[1]
                                             + "'"};
      }
      if (d.running) {
        return running_error(a[0]);
      }
      xs.erase(i);
      message = "assembly " + a[1] + " removed from " + a[0];
      return msg::error{};
    });
}

reply deployable_assembly_list(self_ptr self, args a) {
  auto& defs = self->state.defs;
  msg::error err;
  auto* d = find_deployable(defs, a[0], err);
  if (d == nullptr) {
    return failed(err);
  }
  auto r = table({"name", "jeos", "resources"});
  for (auto& name : d->assemblies) {
    auto i = defs.assemblies.find(name);
    if (i == defs.assemblies.end()) {
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

reply deployable_start(self_ptr self, args a) {
  auto& st = self->state;
  msg::error err;
  auto* d = find_deployable(st.defs, a[0], err);
  if (d == nullptr) {
    return failed(err);
  }
  if (d->running) {
    return failed(
      {errc::wrong_state, "deployable '" + a[0]
                            + "' is running already (deployable_status " + a[0]
                            + ")"});
  }
  if (d->assemblies.empty()) {
    return failed(
      {errc::wrong_state, "deployable '" + a[0]
                            + "' has no assemblies (deployable_assembly_add "
                            + a[0] + " ASSEMBLY)"});
  }
  auto spec = spec_of(st.defs, *d, err);
  if (err) {
    return failed(err);
  }
  return save_running(
    self, *d, true,
    "not started, not saved: ", [self, spec](reply_promise rp) mutable {
      launch(self, spec);
      rp.deliver(ok("deployable " + spec.name + " starting "
                    + std::to_string(spec.assemblies.size())
                    + " assemblies (events or deployable_status " + spec.name
                    + " to follow)"));
    });
}

reply deployable_stop(self_ptr self, args a) {
  auto& st = self->state;
  msg::error err;
  auto* d = find_deployable(st.defs, a[0], err);
  if (d == nullptr) {
    return failed(err);
  }
  auto i = st.running.find(a[0]);
  if (!d->running && i == st.running.end()) {
    return failed(
      {errc::wrong_state, "deployable '" + a[0] + "' is not running"});
  }
  caf::timespan timeout{std::chrono::seconds(60)};
  msg::error incomplete;
  if (auto spec = spec_of(st.defs, *d, incomplete); !incomplete) {
    for (auto& x : spec.assemblies) {
      timeout = std::max(timeout, x.stop_timeout + std::chrono::seconds(60));
    }
  }
  return save_running(self, *d, false, "not stopped, not saved: ",
                      [self, name = a[0], timeout](reply_promise rp) mutable {
                        auto& running = self->state.running;
                        auto dep = running.find(name);
                        if (dep == running.end()) {
                          // Its actor died and was given up on: its VMs
                          // may run still. A new actor adopts and stops
                          // them, so "stopped" is true.
                          msg::error bad;
                          auto d = self->state.defs.deployables.at(name);
                          auto spec = spec_of(self->state.defs, d, bad);
                          if (bad) {
                            rp.deliver(failed(bad));
                            return;
                          }
                          launch(self, spec);
                          dep = running.find(name);
                        }
                        self->send(dep->second, msg::stop_atom::value);
                        reply_when_stopped(self, rp, name, dep->second,
                                           timeout);
                      });
}

void live_statuses(
  self_ptr self, const std::vector<std::string>& names,
  std::function<void(std::map<std::string, msg::deployable_status>)> done) {
  struct gather {
    std::map<std::string, msg::deployable_status> found;
    size_t pending = 0;
    std::function<void(std::map<std::string, msg::deployable_status>)> done;
    void one_less() {
      if (--pending == 0) {
        done(std::move(found));
      }
    }
  };
  auto g = std::make_shared<gather>();
  g->done = std::move(done);
  auto& st = self->state;
  for (auto& name : names) {
    if (auto i = st.running.find(name); i != st.running.end()) {
      ++g->pending;
      self->request(i->second, status_timeout, caf::get_atom::value)
        .then(
          [g](const msg::deployable_status& s) {
            g->found[s.name] = s;
            g->one_less();
          },
          [g](const caf::error&) { g->one_less(); });
    }
  }
  if (g->pending == 0) {
    g->done({});
  }
}

reply deployable_status(self_ptr self, args a) {
  auto& st = self->state;
  std::vector<std::string> names;
  if (!a.empty()) {
    msg::error err;
    if (find_deployable(st.defs, a[0], err) == nullptr) {
      return failed(err);
    }
    names.push_back(a[0]);
  } else {
    for (auto& [name, d] : st.defs.deployables) {
      names.push_back(name);
    }
  }
  auto rp = self->make_response_promise<msg::shell_reply>();
  live_statuses(self, names,
                [self, names, rp](
                  std::map<std::string, msg::deployable_status> found) mutable {
                  auto& defs = self->state.defs;
                  auto reply = table({"path", "state", "restarts", "domain",
                                      "service", "probe", "reason"});
                  for (auto& name : names) {
                    auto i = found.find(name);
                    add_status_rows(
                      defs, reply,
                      i != found.end() ? i->second : never_started(defs, name));
                  }
                  rp.deliver(std::move(reply));
                });
  return rp;
}

} // namespace pcloud::actors::shell
