// The fixture of the tests that link the real pcloud-agent, the real guest
// gateway and the real supervision tree in one process by socketpairs; only
// the hypervisor is a fake (no VM). Each test breaks something and waits,
// with a timeout, for the events that show pcloud recovered it.
#pragma once

#include <signal.h>
#include <stdlib.h>

#include <cstdlib>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/guest_gateway.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/guest_link.hpp"
#include "tests/support/live.hpp"

namespace pcloud::test {

using namespace std::chrono_literals;

inline constexpr auto link_timeout = 20s;

/// A scratch directory removed at the end of the test.
struct scratch_dir {
  scratch_dir() {
    char tmpl[] = "/tmp/pcloud-agent-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~scratch_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string path;
};

inline bool alive(pid_t pid) {
  return kill(pid, 0) == 0;
}

class agent_link_test : public ::testing::Test {
public:
  agent_link_test() : sys(cfg) {
    bus = sys.spawn(actors::event_bus, size_t{1000});
    hv = test::spawn_fake_hypervisor(sys, hv_script);
    recorder = sys.spawn([out = events](msg::event_listener_actor::pointer)
                           -> msg::event_listener_actor::behavior_type {
      return {[out](const msg::event& ev) { out->push(ev); }};
    });
    caf::anon_send(bus, caf::subscribe_atom::value, recorder);
  }

  ~agent_link_test() override {
    if (dep) {
      caf::anon_send_exit(dep, caf::exit_reason::user_shutdown);
    }
    test::stop_all({caf::actor_cast<caf::actor>(bus),
                    caf::actor_cast<caf::actor>(hv),
                    caf::actor_cast<caf::actor>(gateway),
                    caf::actor_cast<caf::actor>(recorder)});
    sys.await_all_actors_done();
    agents.clear();
  }

  /// The gateway reaches assembly NAME's agent through channels[NAME].
  void spawn_gateway(runtime::guest_gateway_options opts = {}) {
    opts.connect = [this](const msg::domain_info& info) {
      return channels[info.assembly].host_connect();
    };
    gateway = runtime::spawn_guest_gateway(sys, opts);
  }

  /// Starts deployable dep1 of `assemblies`, each with an agent, and waits
  /// until it is ACTIVE. Restarts are immediate and never escalate, so each
  /// test sees exactly the recovery it provokes.
  /// `channel_agents`: one agent on each assembly's channel (else the test
  /// brings its own).
  void start(std::vector<msg::assembly_spec> assemblies,
             bool wait_active = true, bool channel_agents = true) {
    if (!gateway) {
      spawn_gateway();
    }
    for (auto& a : assemblies) {
      if (channel_agents) {
        agents.push_back(
          std::make_unique<test::agent_thread>(channels[a.name], a.name));
      }
    }
    msg::deployable_spec spec;
    spec.name = "dep1";
    spec.assemblies = std::move(assemblies);
    spec.resource_escalation = msg::no_escalation_policy();
    dep
      = sys.spawn(actors::deployable, spec,
                  actors::tree_context{{}, bus, hv, gateway, {}, "127.0.0.1"});
    caf::anon_send(dep, msg::start_atom::value);
    if (wait_active) {
      ASSERT_TRUE(wait_event("dep1 ACTIVE")) << lines();
    }
  }

  static msg::resource_spec resource(std::string name, std::string cls,
                                     std::string type) {
    msg::resource_spec r;
    r.name = std::move(name);
    r.resource_class = std::move(cls);
    r.type = std::move(type);
    r.monitor_interval = 200ms;
    r.monitor_timeout = 10s;
    return r;
  }

  static msg::assembly_spec assembly(std::string name,
                                     std::vector<msg::resource_spec> rs) {
    msg::assembly_spec a;
    a.name = std::move(name);
    a.uuid = "uuid-" + a.name;
    a.resources = std::move(rs);
    a.boot_timeout = 10s;
    return a;
  }

  /// Waits for an event whose line contains `text`, after `from` events.
  bool wait_event(const std::string& text, size_t from = 0) {
    return test::wait_for_event(*events, text, from, link_timeout);
  }

  /// The pid in the newest "started (pid N)" event of `path`.
  pid_t started_pid(const std::string& path) {
    pid_t pid = 0;
    std::regex re{"started \\(pid ([0-9]+)\\)"};
    for (auto& ev : events->items()) {
      auto line = msg::to_string(ev);
      std::smatch m;
      if (line.rfind(path + " ", 0) == 0 && std::regex_search(line, m, re)) {
        pid = std::stoi(m[1]);
      }
    }
    return pid;
  }

  size_t mark() { return events->items().size(); }

  /// dep1/a1/worker (`sleep 1000`) SIGKILLed: reported with its signal and
  /// restarted as a new process.
  void expect_worker_restarted_after_sigkill() {
    auto pid = started_pid("dep1/a1/worker");
    ASSERT_GT(pid, 0) << lines();
    auto m = mark();
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_TRUE(wait_event("dep1/a1/worker RECOVERING: killed by signal 9", m))
      << lines();
    ASSERT_TRUE(wait_event("dep1/a1/worker ACTIVE: restarted in", m))
      << lines();
    auto again = test::child_pids("sleep");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_NE(again[0], pid);
  }

  std::string lines() {
    std::string result;
    for (auto& ev : events->items()) {
      result += msg::to_string(ev) + "\n";
    }
    return result;
  }

  test::live_config cfg;
  caf::actor_system sys;
  std::shared_ptr<test::hypervisor_script> hv_script
    = std::make_shared<test::hypervisor_script>();
  msg::hypervisor_actor hv;
  msg::event_bus_actor bus;
  msg::guest_gateway_actor gateway;
  std::shared_ptr<test::sink<msg::event>> events
    = std::make_shared<test::sink<msg::event>>();
  msg::event_listener_actor recorder;
  msg::deployable_actor dep;
  std::map<std::string, test::fake_channel> channels;
  /// For agents on the TCP transport; outlives them (the destructor ends
  /// them first).
  test::tcp_channel tcp;
  std::vector<std::unique_ptr<test::agent_thread>> agents;
};

} // namespace pcloud::test
