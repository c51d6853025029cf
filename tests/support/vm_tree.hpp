// A supervision tree on CAF's threaded scheduler around real QEMU guests
// (TCG): the real hypervisor actor, a fake guest agent (hello as soon as the
// domain starts; the guest's own readiness is read from its console log),
// and an event recorder to wait on.
#pragma once

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/guest_gateway.hpp"
#include "runtime/hypervisor.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/guest_link.hpp"
#include "tests/support/live.hpp"
#include "tests/support/vm.hpp"

namespace pcloud::test {

using namespace std::chrono_literals;

/// Generous: a TCG boot takes ~3 s and the first domain start of an embed
/// root probes QEMU for a few seconds, but CI machines are shared.
constexpr auto vm_timeout = 240s;

class vm_tree_fixture : public ::testing::Test {
public:
  /// `system`: qemu:///system instead of an embed root; `assembly`: the
  /// name of the one assembly of deployable dep1 (its domain is
  /// pcloud-ASSEMBLY, global on qemu:///system); `real_agent`: the real
  /// guest gateway talks to pcloud-agent in the guest instead of a fake;
  /// `tcp`: that agent has no channel and comes over the gateway's TCP
  /// listener (on loopback, which user-mode guests reach as 10.0.2.2).
  vm_tree_fixture(bool system, std::string assembly, bool real_agent = false,
                  bool tcp = false)
      : env(system), sys(cfg), name(std::move(assembly)) {
    bus = sys.spawn(actors::event_bus, size_t{1000});
    runtime::guest_gateway_options gateway_opts;
    if (tcp) {
      tcp_channel listener;
      std::string error;
      gateway_opts = tcp_gateway_options(listener, error);
      EXPECT_GE(gateway_opts.tcp_listener, 0) << error;
      agent_port = listener.port;
    }
    gateway = real_agent ? runtime::spawn_guest_gateway(sys, gateway_opts)
                         : spawn_fake_gateway(sys, gw);
    recorder = sys.spawn([out = events](msg::event_listener_actor::pointer)
                           -> msg::event_listener_actor::behavior_type {
      return {[out](const msg::event& ev) { out->push(ev); }};
    });
    caf::anon_send(bus, caf::subscribe_atom::value, recorder);
  }

  ~vm_tree_fixture() override {
    if (dep) {
      caf::anon_send_exit(dep, caf::exit_reason::user_shutdown);
    }
    if (hv) {
      caf::scoped_actor self{sys};
      self->request(hv, 60s, msg::destroy_atom::value, name)
        .receive([](caf::ok_atom) {}, [](caf::error&) {});
      caf::anon_send_exit(hv, caf::exit_reason::user_shutdown);
    }
    stop_all({caf::actor_cast<caf::actor>(bus),
              caf::actor_cast<caf::actor>(gateway),
              caf::actor_cast<caf::actor>(recorder)});
    sys.await_all_actors_done();
  }

  /// Opens the connection (for embed: from here on no other process can
  /// open the root).
  void open_hypervisor() {
    auto opts = env.options();
    opts.agent_port = agent_port;
    auto hv_res = runtime::spawn_hypervisor(sys, opts);
    ASSERT_TRUE(hv_res) << hv_res.error();
    hv = *hv_res;
  }

  void start_deployable(std::vector<msg::resource_spec> resources = {}) {
    open_hypervisor();
    msg::deployable_spec spec;
    spec.name = "dep1";
    spec.assemblies = {make_assembly(name, {})};
    spec.assemblies[0].resources = std::move(resources);
    if (agent_port != 0) {
      spec.assemblies[0].agent_transport = msg::tcp_transport;
    }
    spec.resource_escalation = msg::no_escalation_policy();
    dep
      = sys.spawn(actors::deployable, spec,
                  actors::tree_context{{}, bus, hv, gateway, {}, "127.0.0.1"});
    caf::anon_send(dep, msg::start_atom::value);
    ASSERT_TRUE(wait_event("dep1 ACTIVE"));
    ASSERT_TRUE(wait_boots(1)) << "the guest did not boot";
  }

  /// Waits for an event whose line contains `text`, after `from` events.
  bool wait_event(const std::string& text, size_t from = 0) {
    return wait_for_event(*events, text, from, vm_timeout);
  }

  bool wait_boots(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + vm_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (env.boots(name) >= n) {
        return true;
      }
      std::this_thread::sleep_for(100ms); // polls a file, not an actor
    }
    return false;
  }

  std::string domain() const { return "pcloud-" + name; }

  std::string lines() {
    std::string result;
    for (auto& ev : events->items()) {
      result += msg::to_string(ev) + "\n";
    }
    return result;
  }

  /// Kills the guest's qemu with `sig`; the VM must come back.
  void expect_recovery_after(int sig, const std::string& reason) {
    start_deployable();
    auto pid = env.qemu_pid(domain());
    ASSERT_TRUE(pid);
    auto mark = events->items().size();
    ASSERT_EQ(kill(*pid, sig), 0);
    ASSERT_TRUE(wait_event("dep1/" + name + " RECOVERING: " + reason, mark))
      << lines();
    ASSERT_TRUE(wait_event("dep1/" + name + " ACTIVE: VM restarted in", mark))
      << lines();
    ASSERT_TRUE(wait_boots(2)) << "the restarted guest did not boot";
    auto pid2 = env.qemu_pid(domain());
    ASSERT_TRUE(pid2);
    EXPECT_NE(*pid2, *pid);
  }

  vm_environment env;
  live_config cfg;
  caf::actor_system sys;
  msg::hypervisor_actor hv;
  msg::event_bus_actor bus;
  std::shared_ptr<gateway_script> gw = std::make_shared<gateway_script>();
  msg::guest_gateway_actor gateway;
  std::shared_ptr<sink<msg::event>> events
    = std::make_shared<sink<msg::event>>();
  msg::event_listener_actor recorder;
  msg::deployable_actor dep;
  std::string name;
  /// The gateway's TCP listener; 0 without one.
  uint16_t agent_port = 0;
};

} // namespace pcloud::test
