// Resource-level recovery: restart, backoff, intensity and escalation, on the
// deterministic scheduler with a fake hypervisor and fake agents.
#include "tests/support/tree_fixture.hpp"

using namespace pcloud;
using namespace pcloud::test;
using strings = std::vector<std::string>;

namespace {

class resource_test : public tree_fixture {
public:
  msg::deployable_actor start_one(std::vector<std::string> resources
                                  = {"httpd"}) {
    return start(make_deployable({make_assembly("assy1", resources)}));
  }
};

msg::escalation_policy limit(uint32_t n, caf::timespan window) {
  auto result = msg::no_escalation_policy();
  result.max_failures = n;
  result.window = window;
  return result;
}

} // namespace

TEST_F(resource_test, killed_resource_is_restarted) {
  start_one();
  mark();
  fail_resource("assy1", "httpd");
  EXPECT_EQ(gw->calls, strings{"restart assy1/httpd"});
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd"),
            (strings{"dep1/assy1/httpd RECOVERING: killed by signal 9 -> "
                     "restarting (1 of 5 in 60s)",
                     "dep1/assy1/httpd ACTIVE: restarted in 0s"}));
  EXPECT_TRUE(hv->calls.empty()) << "a resource failure must not touch the VM";
}

TEST_F(resource_test, second_restart_waits_for_the_restart_delay) {
  start_one();
  fail_resource("assy1", "httpd");
  mark();
  fail_resource("assy1", "httpd");
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd"),
            strings{"dep1/assy1/httpd RECOVERING: killed by signal 9 -> "
                    "restarting in 500 ms (2 of 5 in 60s)"});
  EXPECT_EQ(gw->count("restart assy1/httpd"), 0u);
  advance(499ms);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 0u);
  advance(1ms);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
  // The third waits as long, not longer: it is still within the limit.
  mark();
  fail_resource("assy1", "httpd");
  advance(499ms);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 0u);
  advance(1ms);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
}

TEST_F(resource_test, failure_during_backoff_does_not_restart_twice) {
  start_one();
  fail_resource("assy1", "httpd");
  fail_resource("assy1", "httpd"); // now in a 1 s backoff
  mark();
  fail_resource("assy1", "httpd", "monitor returned 7 (not running)");
  fail_resource("assy1", "httpd");
  EXPECT_TRUE(lines_since_mark("dep1/assy1/httpd").empty());
  advance(1s);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
  advance(1min);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
}

TEST_F(resource_test, failure_while_restart_is_in_flight_is_not_counted) {
  start_one();
  gw->auto_running = false;
  mark();
  fail_resource("assy1", "httpd");
  // The agent's late report of the same death, before the restart's result.
  fail_resource("assy1", "httpd");
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
  caf::anon_send(listener_of("assy1"),
                 msg::resource_report{"assy1", incarnation_of("assy1"), "httpd",
                                      msg::resource_condition::running, ""});
  sched.run();
  auto ls = lines_since_mark("dep1/assy1/httpd");
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_EQ(ls.back(), "dep1/assy1/httpd ACTIVE: restarted in 0s");
}

TEST_F(resource_test, failed_start_counts_as_another_failure) {
  start_one();
  gw->auto_running = false;
  fail_resource("assy1", "httpd");
  mark();
  caf::anon_send(listener_of("assy1"),
                 msg::resource_report{"assy1", incarnation_of("assy1"), "httpd",
                                      msg::resource_condition::start_failed,
                                      "exit code 1"});
  sched.run();
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd"),
            strings{"dep1/assy1/httpd RECOVERING: start failed: exit code 1 "
                    "-> restarting in 500 ms (2 of 5 in 60s)"});
  advance(1s);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
}

TEST_F(resource_test, intensity_exceeded_restarts_the_vm_then_the_resource) {
  start_one();
  // Defaults: 5 failures in 60 s; restarts at once, then after 500 ms.
  fail_resource("assy1", "httpd");
  for (int i = 2; i <= 5; ++i) {
    fail_resource("assy1", "httpd");
    advance(500ms);
  }
  EXPECT_EQ(gw->count("restart assy1/httpd"), 5u);
  EXPECT_EQ(hv->count("destroy assy1"), 0u);
  mark();
  fail_resource("assy1", "httpd");
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}));
  EXPECT_EQ(gw->calls,
            (strings{"detach assy1", "attach assy1#2", "start assy1/httpd"}));
  auto res = lines_since_mark("dep1/assy1/httpd");
  ASSERT_FALSE(res.empty());
  EXPECT_EQ(res.front(), "dep1/assy1/httpd FAILED: killed by signal 9 -> "
                         "escalating to assembly assy1 (6 of 5 in 60s)");
  EXPECT_EQ(res.back(), "dep1/assy1/httpd ACTIVE: restarted in 0s");
  EXPECT_EQ(lines_since_mark("dep1/assy1"),
            (strings{"dep1/assy1 RECOVERING: resource httpd failed 6 times "
                     "in 60s (killed by signal 9) -> restarting VM (1 of 3 in "
                     "300s)",
                     "dep1/assy1 ACTIVE: VM restarted in 0s"}));
}

TEST_F(resource_test, failures_spaced_wider_than_the_window_never_escalate) {
  start_one();
  for (int i = 0; i < 20; ++i) {
    fail_resource("assy1", "httpd");
    advance(61s);
  }
  EXPECT_EQ(gw->count("restart assy1/httpd"), 20u);
  EXPECT_EQ(hv->count("destroy assy1"), 0u);
}

TEST_F(resource_test, failure_after_expired_window_counts_as_one) {
  // pacemaker-cloud counted such a failure as 0 and so let one more through.
  auto a = make_assembly("assy1", {"httpd"});
  a.resources[0].escalation = limit(2, 10s);
  start(make_deployable({a}));
  fail_resource("assy1", "httpd");
  advance(11s);
  fail_resource("assy1", "httpd"); // 1 in the window
  fail_resource("assy1", "httpd"); // 2
  EXPECT_EQ(hv->count("destroy assy1"), 0u);
  fail_resource("assy1", "httpd"); // 3 > 2: escalate
  EXPECT_EQ(hv->count("destroy assy1"), 1u);
}

TEST_F(resource_test, per_resource_settings_override_the_defaults) {
  auto a = make_assembly("assy1", {"httpd", "fragile"});
  a.resources[1].escalation = limit(1, 60s);
  start(make_deployable({a}));
  fail_resource("assy1", "httpd");
  fail_resource("assy1", "httpd");
  advance(1s);
  EXPECT_EQ(hv->count("destroy assy1"), 0u) << "httpd keeps the default 5";
  fail_resource("assy1", "fragile");
  EXPECT_EQ(hv->count("destroy assy1"), 0u);
  fail_resource("assy1", "fragile");
  EXPECT_EQ(hv->count("destroy assy1"), 1u) << "fragile allows only 1";
}

TEST_F(resource_test, deployable_resource_defaults_apply_to_all_resources) {
  auto spec = make_deployable({make_assembly("assy1", {"httpd"})});
  spec.resource_escalation = limit(1, 60s);
  start(spec);
  fail_resource("assy1", "httpd");
  fail_resource("assy1", "httpd");
  EXPECT_EQ(hv->count("destroy assy1"), 1u);
}

TEST_F(resource_test, same_name_in_two_assemblies_is_kept_apart) {
  start(make_deployable(
    {make_assembly("assy1", {"httpd"}), make_assembly("assy2", {"httpd"})}));
  mark();
  fail_resource("assy2", "httpd");
  EXPECT_EQ(gw->calls, strings{"restart assy2/httpd"});
  EXPECT_TRUE(lines_since_mark("dep1/assy1/httpd").empty());
  EXPECT_EQ(lines_since_mark("dep1/assy2/httpd").size(), 2u);
  auto st = status(deployables.front());
  ASSERT_EQ(st.assemblies.size(), 2u);
  EXPECT_EQ(st.assemblies[0].name, "assy1");
  EXPECT_EQ(st.assemblies[0].resources[0].restarts, 0u);
  EXPECT_EQ(st.assemblies[1].resources[0].restarts, 1u);
  EXPECT_EQ(st.assemblies[1].resources[0].state, msg::state::active);
}

TEST_F(resource_test, vm_failure_supersedes_a_pending_resource_restart) {
  start_one();
  fail_resource("assy1", "httpd");
  fail_resource("assy1", "httpd"); // restart pending in 500 ms
  mark();
  kill_vm("assy1");
  advance(1s); // the resource's backoff timer fires, but is stale
  EXPECT_EQ(gw->count("restart assy1/httpd"), 0u);
  EXPECT_EQ(gw->count("start assy1/httpd"), 1u);
  auto res = lines_since_mark("dep1/assy1/httpd");
  ASSERT_FALSE(res.empty());
  EXPECT_EQ(res.back(), "dep1/assy1/httpd ACTIVE: restarted in 0s");
}

TEST_F(resource_test, report_for_an_unknown_resource_is_dropped) {
  start_one();
  mark();
  fail_resource("assy1", "sshd");
  EXPECT_TRUE(gw->calls.empty());
  EXPECT_EQ(events->size(), marked);
}

TEST_F(resource_test, probe_saying_stopped_while_starting_is_no_failure) {
  gw->auto_running = false;
  start_one();
  mark();
  // The agent's probe answers "not running" before the start is done.
  caf::anon_send(listener_of("assy1"),
                 msg::resource_report{"assy1", incarnation_of("assy1"), "httpd",
                                      msg::resource_condition::stopped,
                                      "not started"});
  sched.run();
  EXPECT_TRUE(lines_since_mark("dep1/assy1/httpd").empty());
  EXPECT_EQ(gw->count("restart assy1/httpd"), 0u);
  // Once it runs, "stopped" is a failure like any other.
  caf::anon_send(listener_of("assy1"),
                 msg::resource_report{"assy1", incarnation_of("assy1"), "httpd",
                                      msg::resource_condition::running,
                                      "started"});
  sched.run();
  mark();
  caf::anon_send(listener_of("assy1"),
                 msg::resource_report{"assy1", incarnation_of("assy1"), "httpd",
                                      msg::resource_condition::stopped,
                                      "stopped by someone"});
  sched.run();
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd"),
            (strings{"dep1/assy1/httpd RECOVERING: stopped by someone -> "
                     "restarting (1 of 5 in 60s)"}));
}

TEST_F(resource_test, probe_verdicts_show_in_status_without_a_state_change) {
  auto spec = make_deployable({make_assembly("assy1", {"httpd"})});
  auto& httpd = spec.assemblies[0].resources[0];
  httpd.probe.kind = "http";
  httpd.probe.port = 80;
  auto d = start(spec);
  mark();
  auto report = [&](bool ok, uint32_t failures, std::string detail) {
    caf::anon_send(listener_of("assy1"),
                   msg::probe_report{"assy1", incarnation_of("assy1"), "httpd",
                                     ok, failures, std::move(detail)});
    sched.run();
  };
  report(false, 2, "timed out after 500ms");
  auto res = status(d).assemblies.at(0).resources.at(0);
  EXPECT_EQ(res.probe, "failing 2/3: timed out after 500ms");
  EXPECT_GT(res.probe_at_ms, 0);
  EXPECT_EQ(res.state, msg::state::active);
  report(true, 0, "status 200");
  EXPECT_EQ(status(d).assemblies.at(0).resources.at(0).probe, "ok: status 200");
  // The agent acts on the threshold; a verdict alone changes no state.
  EXPECT_TRUE(lines_since_mark("dep1/assy1/httpd").empty());
  EXPECT_TRUE(gw->calls.empty());
  // A report of an earlier incarnation is not this VM's.
  caf::anon_send(listener_of("assy1"),
                 msg::probe_report{"assy1", incarnation_of("assy1") - 1,
                                   "httpd", false, 1, "stale"});
  sched.run();
  EXPECT_EQ(status(d).assemblies.at(0).resources.at(0).probe, "ok: status 200");
}

TEST_F(resource_test, status_says_a_restart_is_waiting_for_its_delay) {
  auto d = start_one();
  fail_resource("assy1", "httpd");
  fail_resource("assy1", "httpd");
  auto res = status(d).assemblies.at(0).resources.at(0);
  EXPECT_EQ(res.state, msg::state::recovering);
  EXPECT_EQ(res.reason, "killed by signal 9 -> restarting in 500 ms");
  advance(500ms);
  EXPECT_EQ(status(d).assemblies.at(0).resources.at(0).state,
            msg::state::active);
}
