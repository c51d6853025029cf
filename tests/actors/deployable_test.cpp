// Deployable policy: restart-all within its limit, stop, FAILED; the
// deployable's own state and the order and contents of events.
#include "tests/support/tree_fixture.hpp"

using namespace pcloud;
using namespace pcloud::test;
using strings = std::vector<std::string>;

namespace {

class deployable_test : public tree_fixture {
public:
  /// Three assemblies with httpd each; an assembly escalates on its second VM
  /// failure and restarts without backoff.
  msg::deployable_spec three(msg::deployable_policy policy) {
    auto spec = make_deployable({make_assembly("assy1", {"httpd"}),
                                 make_assembly("assy2", {"httpd"}),
                                 make_assembly("assy3", {"httpd"})});
    spec.policy = policy;
    spec.assembly_escalation = msg::no_escalation_policy();
    spec.assembly_escalation.max_failures = 1;
    spec.assembly_escalation.window = 300s;
    return spec;
  }

  /// Makes assy2 exceed its intensity.
  void escalate_assy2() {
    kill_vm("assy2");
    kill_vm("assy2");
  }
};

} // namespace

TEST_F(deployable_test, becomes_active_when_everything_is) {
  auto d = start(three(msg::deployable_policy::restart_all));
  EXPECT_EQ(lines_of("dep1"),
            (strings{"dep1 STARTING: starting 3 assemblies",
                     "dep1 ACTIVE: all 3 assemblies active"}));
  auto st = status(d);
  EXPECT_EQ(st.state, msg::state::active);
  ASSERT_EQ(st.assemblies.size(), 3u);
  for (auto& a : st.assemblies) {
    EXPECT_EQ(a.state, msg::state::active) << a.name;
    ASSERT_EQ(a.resources.size(), 1u);
    EXPECT_EQ(a.resources[0].state, msg::state::active) << a.name;
  }
}

TEST_F(deployable_test, recovering_while_any_part_recovers) {
  start(three(msg::deployable_policy::restart_all));
  mark();
  gw->auto_running = false;
  fail_resource("assy3", "httpd");
  EXPECT_EQ(lines_since_mark("dep1"),
            strings{"dep1 RECOVERING: assy3/httpd RECOVERING"});
  caf::anon_send(listener_of("assy3"),
                 msg::resource_report{"assy3", incarnation_of("assy3"), "httpd",
                                      msg::resource_condition::running, ""});
  sched.run();
  EXPECT_EQ(lines_since_mark("dep1"),
            (strings{"dep1 RECOVERING: assy3/httpd RECOVERING",
                     "dep1 ACTIVE: all 3 assemblies active"}));
}

TEST_F(deployable_test, restart_all_restarts_every_assembly) {
  start(three(msg::deployable_policy::restart_all));
  mark();
  escalate_assy2();
  for (auto name : {"assy1", "assy2", "assy3"}) {
    EXPECT_EQ(hv->count(std::string{"start "} + name),
              name == std::string{"assy2"} ? 2u : 1u)
      << name;
  }
  // The first VM failure is assy2's own recovery; the second escalates.
  EXPECT_EQ(lines_since_mark("dep1"),
            (strings{"dep1 RECOVERING: assy2 RECOVERING",
                     "dep1 ACTIVE: all 3 assemblies active",
                     "dep1 RECOVERING: assy2 FAILED",
                     "dep1 RECOVERING: assembly assy2 failed 2 times in 300s "
                     "(VM stopped: killed) -> restarting all assemblies (1 of "
                     "1 in 1h)",
                     "dep1 ACTIVE: all 3 assemblies active"}));
  EXPECT_EQ(lines_since_mark("dep1/assy1").front(),
            "dep1/assy1 RECOVERING: deployable dep1 restart-all -> "
            "restarting VM");
}

TEST_F(deployable_test, restart_all_resets_assembly_counters) {
  start(three(msg::deployable_policy::restart_all));
  escalate_assy2();
  mark();
  // One VM failure after restart-all is the first of a fresh window.
  kill_vm("assy2");
  EXPECT_EQ(lines_since_mark("dep1/assy2").front(),
            "dep1/assy2 RECOVERING: VM stopped: killed -> restarting VM (1 "
            "of 1 in 300s)");
}

TEST_F(deployable_test, restart_all_limit_then_failed) {
  auto d = start(three(msg::deployable_policy::restart_all));
  escalate_assy2();
  mark();
  escalate_assy2(); // a second restart-all within the hour
  EXPECT_EQ(lines_since_mark("dep1").back(),
            "dep1 FAILED: assembly assy2 failed 2 times in 300s (VM stopped: "
            "killed) -> stopping deployable: restart-all limit reached (2 of "
            "1 in 1h)");
  for (auto name : {"assy1", "assy2", "assy3"}) {
    EXPECT_EQ(hv->count(std::string{"shutdown "} + name), 1u) << name;
  }
  EXPECT_EQ(status(d).state, msg::state::failed);
  // Nothing is restarted any more.
  mark();
  advance(2h);
  EXPECT_TRUE(hv->calls.empty());
}

TEST_F(deployable_test, restart_all_allowed_again_after_the_window) {
  start(three(msg::deployable_policy::restart_all));
  escalate_assy2();
  advance(1h);
  mark();
  escalate_assy2();
  EXPECT_EQ(hv->count("destroy assy1"), 1u);
  EXPECT_EQ(lines_since_mark("dep1").back(),
            "dep1 ACTIVE: all 3 assemblies active");
}

TEST_F(deployable_test, stop_policy_fails_the_deployable_at_once) {
  auto d = start(three(msg::deployable_policy::stop));
  mark();
  escalate_assy2();
  auto dep = lines_since_mark("dep1");
  ASSERT_FALSE(dep.empty());
  EXPECT_EQ(dep.back(), "dep1 FAILED: assembly assy2 failed 2 times in 300s "
                        "(VM stopped: killed) -> stopping deployable (policy "
                        "stop)");
  EXPECT_EQ(hv->count("shutdown assy1"), 1u);
  EXPECT_EQ(hv->count("shutdown assy3"), 1u);
  EXPECT_EQ(hv->count("destroy assy1"), 0u);
  auto st = status(d);
  EXPECT_EQ(st.state, msg::state::failed);
  EXPECT_EQ(st.assemblies[0].state, msg::state::stopped);
}

TEST_F(deployable_test, simultaneous_escalations_restart_all_only_once) {
  auto d = start(three(msg::deployable_policy::restart_all));
  mark();
  caf::anon_send(d, msg::escalate_atom::value, std::string{"assy1"},
                 std::string{"a"});
  caf::anon_send(d, msg::escalate_atom::value, std::string{"assy3"},
                 std::string{"b"});
  sched.run();
  EXPECT_EQ(hv->count("destroy assy2"), 1u);
  EXPECT_EQ(status(d).restarts, 1u);
}

TEST_F(deployable_test, failed_deployable_can_be_started_again) {
  auto d = start(three(msg::deployable_policy::stop));
  escalate_assy2();
  mark();
  caf::anon_send(d, msg::start_atom::value);
  sched.run();
  EXPECT_EQ(hv->count("start assy2"), 1u);
  EXPECT_EQ(lines_since_mark("dep1").back(),
            "dep1 ACTIVE: all 3 assemblies active");
}

TEST_F(deployable_test, stop_then_stopped_and_nothing_restarts) {
  auto d = start(three(msg::deployable_policy::restart_all));
  mark();
  caf::anon_send(d, msg::stop_atom::value);
  sched.run();
  EXPECT_EQ(lines_since_mark("dep1"),
            strings{"dep1 STOPPED: all assemblies stopped"});
  EXPECT_EQ(hv->calls.size(), 3u);
  advance(1h);
  EXPECT_EQ(hv->calls.size(), 3u);
}

TEST_F(deployable_test, events_are_numbered_in_order_with_their_contents) {
  start(three(msg::deployable_policy::restart_all));
  fail_resource("assy2", "httpd");
  ASSERT_FALSE(events->empty());
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].sequence, i + 1) << "event " << i;
  }
  // The failure, then the corrective action's result, then the deployable.
  std::vector<msg::event> about;
  for (auto& ev : *events) {
    if (ev.assembly == "assy2" && ev.resource == "httpd"
        && ev.state != msg::state::starting) {
      about.push_back(ev);
    }
  }
  ASSERT_EQ(about.size(), 3u); // ACTIVE (first start), RECOVERING, ACTIVE
  auto& failure = about[1];
  EXPECT_EQ(failure.deployable, "dep1");
  EXPECT_EQ(failure.state, msg::state::recovering);
  EXPECT_EQ(failure.reason, "killed by signal 9");
  EXPECT_EQ(failure.action, "restarting");
  EXPECT_EQ(failure.failures, 1u);
  EXPECT_EQ(failure.max_failures, 5u);
  EXPECT_EQ(failure.window, 60s);
  EXPECT_EQ(failure.restarts, 0u);
  auto& recovered = about[2];
  EXPECT_EQ(recovered.state, msg::state::active);
  EXPECT_EQ(recovered.restarts, 1u);
  EXPECT_EQ(recovered.downtime, caf::timespan{0});
  EXPECT_GT(recovered.sequence, failure.sequence);
  EXPECT_NE(recovered.time, caf::timestamp{});
}
