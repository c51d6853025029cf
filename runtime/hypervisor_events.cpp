// runtime/hypervisor_events.cpp -- what the hypervisor actor hears rather
// than asks: qemu process exits (pid watch), libvirt's lifecycle events, and
// the connection closing under it, with the reconnect and the reconcile
// after it. Apart from hypervisor.cpp, which starts and stops domains.
//
// Death signals, fastest first: the qemu process exiting (pidfd), then
// libvirt's lifecycle event (~2 s later here). The first one reported for an
// incarnation wins; the rest are dropped. Every event is marked `requested`
// when pcloud itself destroyed or shut down the domain.
#include <algorithm>
#include <chrono>
#include <set>

#include <spdlog/spdlog.h>

#include "runtime/hypervisor_state.hpp"
#include "runtime/qemu_host.hpp"

namespace pcloud::runtime::detail {

namespace {

/// Where libvirt keeps a domain's qemu pid, if this host can read it.
std::string pid_file_of(const hypervisor_options& opts,
                        const std::string& name) {
  auto root = embed_root_of(opts.uri);
  if (!root.empty()) {
    return root + "/run/qemu/" + name + ".pid";
  }
  if (opts.uri == "qemu:///system") {
    return "/run/libvirt/qemu/" + name + ".pid";
  }
  return {};
}

/// After a reconnect: whatever died while libvirt was unreachable is
/// reported now (a level-driven check, not an event we might have missed).
void reconcile(self_ptr self) {
  auto& st = self->state;
  auto active = st.conn->list_active();
  if (!active) {
    spdlog::warn("hypervisor: reconcile: {}", active.error());
    return;
  }
  std::set<std::string> running;
  for (auto& dom : *active) {
    running.insert(dom.uuid());
  }
  for (auto& [assembly, t] : st.assemblies) {
    if (t.incarnation != 0 && !t.death_reported
        && running.count(t.domain_uuid) == 0) {
      report(self, assembly, t, msg::domain_event_kind::stopped,
             "gone while the libvirt connection was down");
    }
  }
  spdlog::info("hypervisor: {}: reconciled {} domains, {} running", st.opts.uri,
               st.assemblies.size(), running.size());
}

} // namespace

void report(self_ptr self, const std::string& assembly, tracked& t,
            msg::domain_event_kind kind, const std::string& reason) {
  if (msg::is_death(kind)) {
    if (t.death_reported) {
      return; // a faster path told already
    }
    t.death_reported = true;
    if (t.shutdown) {
      t.shutdown->deliver(caf::ok_atom::value);
      t.shutdown.reset();
    }
  }
  spdlog::debug("hypervisor: {} incarnation {} {} ({}){}", assembly,
                t.incarnation, msg::to_string(kind), reason,
                t.expecting_death ? ", requested" : "");
  self->send(t.listener, msg::domain_event{assembly, t.incarnation, kind,
                                           reason, t.expecting_death});
}

void watch_qemu(self_ptr self, const std::string& assembly, tracked& t,
                const std::string& name) {
  auto file = pid_file_of(self->state.opts, name);
  if (file.empty()) {
    return;
  }
  auto pid = read_pid_file(file);
  if (!pid) {
    spdlog::warn("hypervisor: {}: no qemu pid ({}); relying on libvirt's "
                 "events alone",
                 assembly, pid.error());
    return;
  }
  t.qemu_pid = *pid;
  auto handle = caf::actor_cast<hypervisor_impl>(self);
  auto incarnation = t.incarnation;
  auto watched = self->state.watcher->watch(
    *pid, [handle, assembly, incarnation](const std::string& how) {
      caf::anon_send(handle, qemu_exit_note{assembly, incarnation, how});
    });
  if (!watched) {
    // Already gone: the domain died while starting.
    caf::anon_send(handle, qemu_exit_note{assembly, incarnation, "exited"});
  }
}

void when_connected(self_ptr self, std::function<void()> f) {
  if (self->state.connected) {
    f();
  } else {
    self->state.deferred.push_back(std::move(f));
  }
}

void register_callbacks(self_ptr self) {
  auto& st = self->state;
  // libvirt may free a deregistered callback late (or, once the connection
  // is closed, never): the callbacks hold only a weak handle, so they can
  // never keep this actor alive.
  caf::weak_actor_ptr weak = self->ctrl();
  auto tell = [weak](auto msg) {
    if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(weak)) {
      caf::anon_send(caf::actor_cast<hypervisor_impl>(strong), std::move(msg));
    }
  };
  auto events = st.conn->on_lifecycle(
    [tell](const virt::lifecycle_event& ev) { tell(lifecycle_note{ev}); });
  if (!events) {
    spdlog::error("hypervisor: {}: no lifecycle events: {}", st.opts.uri,
                  events.error());
  }
  auto closes = st.conn->on_close(
    [tell](const std::string& why) { tell(connection_lost_note{why}); });
  if (!closes) {
    spdlog::warn("hypervisor: {}: cannot watch the connection: {}", st.opts.uri,
                 closes.error());
  }
}

void try_reconnect(self_ptr self) {
  auto& st = self->state;
  auto conn = virt::connection::open(st.opts.uri);
  if (!conn) {
    using namespace std::chrono_literals;
    st.reconnect_delay = std::min<caf::timespan>(
      std::max<caf::timespan>(st.reconnect_delay * 2, 250ms), 5s);
    spdlog::debug("hypervisor: reconnect failed ({}), next in {}", conn.error(),
                  msg::format_duration(st.reconnect_delay));
    self->delayed_send(self, st.reconnect_delay, reconnect_tick{});
    return;
  }
  st.conn = std::make_shared<virt::connection>(std::move(*conn));
  st.connected = true;
  st.reconnect_delay = caf::timespan{0};
  register_callbacks(self);
  spdlog::info("hypervisor: reconnected to {}", st.opts.uri);
  reconcile(self);
  auto waiting = std::move(st.deferred);
  st.deferred.clear();
  for (auto& f : waiting) {
    f();
  }
}

} // namespace pcloud::runtime::detail
