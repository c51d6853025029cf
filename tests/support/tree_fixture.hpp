// A GoogleTest fixture that runs a supervision tree on CAF's deterministic
// scheduler with a fake hypervisor, gateway and service prober. No sleeps, no
// threads: tests run the scheduler and advance its clock explicitly.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "tests/support/fakes.hpp"

namespace pcloud::test {

using namespace std::chrono_literals;

class tree_fixture : public ::testing::Test {
public:
  tree_fixture()
      : sys(cfg), sched(dynamic_cast<caf::scheduler::test_coordinator&>(
                    sys.scheduler())) {
    bus = sys.spawn(actors::event_bus, size_t{1000});
    hypervisor = spawn_fake_hypervisor(sys, hv);
    gateway = spawn_fake_gateway(sys, gw);
    prober = spawn_fake_prober(sys, pr);
    recorder = spawn_event_recorder(sys, events);
    caf::anon_send(bus, caf::subscribe_atom::value, recorder);
    sched.run();
  }

  ~tree_fixture() override {
    // A live actor would hang the actor system's destructor.
    for (auto& d : deployables) {
      caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(bus, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(hypervisor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(prober, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(recorder, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Spawns a deployable of the given assemblies and starts it.
  msg::deployable_actor start(msg::deployable_spec spec) {
    auto d = sys.spawn(
      actors::deployable, std::move(spec),
      actors::tree_context{{}, bus, hypervisor, gateway, prober, "127.0.0.1"});
    deployables.push_back(d);
    caf::anon_send(d, msg::start_atom::value);
    sched.run();
    return d;
  }

  msg::deployable_spec make_deployable(std::vector<msg::assembly_spec> as) {
    msg::deployable_spec spec;
    spec.name = "dep1";
    spec.assemblies = std::move(as);
    return spec;
  }

  msg::guest_listener_actor listener_of(const std::string& assembly) {
    return gw->links.at(assembly).listener;
  }

  uint64_t incarnation_of(const std::string& assembly) {
    return hv->incarnations.at(assembly);
  }

  /// The agent of `assembly` says hello (with auto_hello off).
  void say_hello(const std::string& assembly) {
    caf::anon_send(listener_of(assembly),
                   msg::agent_hello{assembly,
                                    incarnation_of(assembly),
                                    msg::guest_protocol_version,
                                    "test",
                                    "boot",
                                    {}});
    sched.run();
  }

  /// The agent of `assembly` reports that `resource` failed.
  void fail_resource(const std::string& assembly, const std::string& resource,
                     std::string cause = "killed by signal 9") {
    caf::anon_send(
      listener_of(assembly),
      msg::resource_report{assembly, incarnation_of(assembly), resource,
                           msg::resource_condition::failed, std::move(cause)});
    sched.run();
  }

  /// libvirt reports that the domain of `assembly` died on its own.
  void kill_vm(const std::string& assembly,
               msg::domain_event_kind kind = msg::domain_event_kind::stopped) {
    caf::anon_send(hv->listeners.at(assembly),
                   msg::domain_event{assembly, incarnation_of(assembly), kind,
                                     "killed", false});
    sched.run();
  }

  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  msg::deployable_status status(const msg::deployable_actor& d) {
    msg::deployable_status result;
    bool done = false;
    auto self = caf::scoped_actor{sys};
    self->send(d, caf::get_atom::value);
    sched.run();
    self->receive(
      [&](msg::deployable_status& st) {
        result = std::move(st);
        done = true;
      },
      caf::after(std::chrono::seconds(0)) >> [] {});
    EXPECT_TRUE(done);
    return result;
  }

  /// Every event as the shell prints it, in order.
  std::vector<std::string> lines() const {
    std::vector<std::string> result;
    for (auto& ev : *events) {
      result.push_back(msg::to_string(ev));
    }
    return result;
  }

  /// Events about one path ("dep1/assy1/httpd"), as lines.
  std::vector<std::string> lines_of(const std::string& path) const {
    std::vector<std::string> result;
    for (auto& ev : *events) {
      if (msg::path_of(ev) == path) {
        result.push_back(msg::to_string(ev));
      }
    }
    return result;
  }

  /// Events about one path since the last call to `mark()`.
  std::vector<std::string> lines_since_mark(const std::string& path) const {
    std::vector<std::string> result;
    for (size_t i = marked; i < events->size(); ++i) {
      if (msg::path_of((*events)[i]) == path) {
        result.push_back(msg::to_string((*events)[i]));
      }
    }
    return result;
  }

  void mark() {
    marked = events->size();
    hv->calls.clear();
    gw->calls.clear();
    pr->calls.clear();
  }

  deterministic_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<hypervisor_script> hv = std::make_shared<hypervisor_script>();
  std::shared_ptr<gateway_script> gw = std::make_shared<gateway_script>();
  std::shared_ptr<prober_script> pr = std::make_shared<prober_script>();
  std::shared_ptr<std::vector<msg::event>> events
    = std::make_shared<std::vector<msg::event>>();
  msg::event_bus_actor bus;
  msg::hypervisor_actor hypervisor;
  msg::guest_gateway_actor gateway;
  msg::service_prober_actor prober;
  msg::event_listener_actor recorder;
  std::vector<msg::deployable_actor> deployables;
  size_t marked = 0;
};

} // namespace pcloud::test
