// Assemblies whose guest has no agent (transport none): the VM is watched
// through libvirt and its services through their ports, from the host
// alone, on the deterministic scheduler with fakes.
#include "tests/support/tree_fixture.hpp"

using namespace pcloud;
using namespace pcloud::test;
using namespace std::chrono_literals;
using strings = std::vector<std::string>;

namespace {

class agentless_test : public tree_fixture {
public:
  /// assy1, without an agent, with httpd serving port 80 (forwarded from
  /// 20080) on `network`.
  msg::deployable_actor start_web(const std::string& network,
                                  msg::probe_spec probe = {}) {
    auto a = make_assembly("assy1", {"httpd"});
    a.agent_transport = msg::no_agent;
    a.network = network;
    a.boot_timeout = std::chrono::minutes(2);
    a.resources[0].ports.push_back({"http", "tcp", 80, 20080});
    a.resources[0].probe = std::move(probe);
    return start(make_deployable({a}));
  }

  /// `n` probe intervals (1 s by default), one at a time: each check is
  /// set after the last one's result.
  void intervals(int n) {
    for (int i = 0; i < n; ++i) {
      advance(1s);
    }
  }

  msg::assembly_status assy1(const msg::deployable_actor& d) {
    return status(d).assemblies.at(0);
  }
};

} // namespace

TEST_F(agentless_test, active_once_the_port_answers_with_no_agent_asked) {
  pr->reachable = false;
  auto dep = start_web("user");
  EXPECT_EQ(gw->calls, strings{}) << "no agent link, no command";
  EXPECT_EQ(assy1(dep).state, msg::state::active)
    << "the VM runs: that is all an assembly without an agent can tell";
  EXPECT_EQ(assy1(dep).reason, "VM running, no agent");
  auto httpd = assy1(dep).resources.at(0);
  EXPECT_EQ(httpd.state, msg::state::starting);
  EXPECT_EQ(httpd.reason,
            "waiting for port 80 at 127.0.0.1:20080 (connection refused)");
  pr->reachable = true;
  advance(250ms);
  EXPECT_EQ(lines_of("dep1/assy1/httpd"),
            (strings{"dep1/assy1/httpd STARTING: VM running, no agent -> "
                     "waiting for its port",
                     "dep1/assy1/httpd ACTIVE: no agent; answers at "
                     "127.0.0.1:20080"}));
  EXPECT_EQ(status(dep).state, msg::state::active);
}

TEST_F(agentless_test, the_port_is_checked_every_interval_while_active) {
  auto dep = start_web("user");
  ASSERT_EQ(pr->calls.size(), 1u);
  advance(999ms);
  EXPECT_EQ(pr->calls.size(), 1u);
  advance(1ms);
  EXPECT_EQ(pr->calls.size(), 2u) << "the probe's interval (1 s default)";
  intervals(10);
  EXPECT_EQ(pr->calls.size(), 12u);
  EXPECT_EQ(assy1(dep).resources.at(0).probe, "ok: connected");
}

TEST_F(agentless_test, failures_below_the_threshold_are_tolerated) {
  auto dep = start_web("user");
  mark();
  pr->reachable = false;
  intervals(2); // two failed checks of three
  pr->reachable = true;
  intervals(1);
  EXPECT_EQ(assy1(dep).resources.at(0).state, msg::state::active);
  EXPECT_EQ(hv->calls, strings{}) << "no VM restarted";
  pr->reachable = false;
  intervals(2);
  EXPECT_EQ(assy1(dep).resources.at(0).probe,
            "failing 2/3: connection refused");
  EXPECT_EQ(hv->calls, strings{}) << "the count started again";
}

TEST_F(agentless_test, a_service_that_stops_answering_restarts_the_vm) {
  auto dep = start_web("user");
  mark();
  pr->reachable = false;
  intervals(3);
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd").at(0),
            "dep1/assy1/httpd FAILED: no answer at 127.0.0.1:20080 3 times "
            "in a row (connection refused) -> restarting the VM of assy1 "
            "(no agent in it)");
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}))
    << "nobody inside could restart it: the VM is";
  EXPECT_EQ(gw->calls, strings{"detach assy1"}) << "no command to an agent";
  EXPECT_EQ(assy1(dep).resources.at(0).reason,
            "waiting for port 80 at 127.0.0.1:20080 (connection refused)");
  pr->reachable = true;
  advance(250ms);
  EXPECT_EQ(assy1(dep).state, msg::state::active);
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd").back(),
            "dep1/assy1/httpd ACTIVE: restarted in 250 ms");
}

TEST_F(agentless_test, a_port_that_never_answers_is_a_failed_start) {
  // Without an agent the guest's boot counts: the boot timeout (2 min
  // here), not the 60 s a service that an agent saw running gets.
  pr->reachable = false;
  auto dep = start_web("user");
  mark();
  advance(60s);
  EXPECT_EQ(hv->calls, strings{});
  advance(60s);
  EXPECT_EQ(
    lines_since_mark("dep1/assy1/httpd")
      .at(0)
      .rfind("dep1/assy1/httpd FAILED: start failed: not reachable from the "
             "host within 120s",
             0),
    0u);
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}));
}

TEST_F(agentless_test, a_vm_killed_is_restarted_without_an_agent) {
  auto dep = start_web("user");
  mark();
  kill_vm("assy1");
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}));
  EXPECT_EQ(assy1(dep).state, msg::state::active);
  EXPECT_EQ(assy1(dep).resources.at(0).state, msg::state::active);
}

TEST_F(agentless_test, on_a_libvirt_network_the_lease_is_the_address) {
  hv->subnets["net1"] = {"192.0.2.0/24"};
  hv->leases["assy1"] = {};
  auto dep = start_web("net1");
  EXPECT_EQ(assy1(dep).state, msg::state::starting);
  EXPECT_EQ(assy1(dep).reason, "VM running, no agent, waiting for an address");
  EXPECT_TRUE(pr->calls.empty());
  // The guest asks for its lease once it has booted: asked until then.
  advance(5s);
  EXPECT_EQ(assy1(dep).state, msg::state::starting);
  hv->leases["assy1"] = {"192.0.2.7"};
  advance(250ms);
  EXPECT_EQ(assy1(dep).state, msg::state::active);
  EXPECT_EQ(assy1(dep).service_address, "192.0.2.7");
  EXPECT_EQ(pr->calls.at(0), "tcp 192.0.2.7:80");
  EXPECT_EQ(assy1(dep).resources.at(0).state, msg::state::active);
}

TEST_F(agentless_test, no_lease_within_the_boot_timeout_is_a_vm_failure) {
  hv->subnets["net1"] = {"192.0.2.0/24"};
  hv->leases["assy1"] = {};
  start_web("net1");
  mark();
  advance(2min);
  EXPECT_EQ(lines_since_mark("dep1/assy1").at(0),
            "dep1/assy1 RECOVERING: no address on network net1 within 120s "
            "-> restarting VM (1 of 3 in 300s)");
}
