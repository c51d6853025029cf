// VM-level recovery: domain deaths, agent silence, boot timeouts, backoff and
// the rules that keep one failure from causing two restarts.
#include "tests/support/tree_fixture.hpp"

using namespace pcloud;
using namespace pcloud::test;
using strings = std::vector<std::string>;

namespace {

class assembly_test : public tree_fixture {
public:
  msg::deployable_actor start_one() {
    return start(make_deployable({make_assembly("assy1", {"httpd"})}));
  }
};

} // namespace

TEST_F(assembly_test, start_boots_the_vm_then_starts_resources) {
  start_one();
  EXPECT_EQ(hv->calls, strings{"start assy1"});
  EXPECT_EQ(gw->calls, (strings{"attach assy1#1", "start assy1/httpd"}));
  EXPECT_EQ(lines_of("dep1/assy1"),
            (strings{"dep1/assy1 STARTING: start requested -> starting VM",
                     "dep1/assy1 ACTIVE: agent fake connected"}));
  EXPECT_EQ(lines_of("dep1/assy1/httpd"),
            (strings{"dep1/assy1/httpd STARTING: agent ready -> starting",
                     "dep1/assy1/httpd ACTIVE: started"}));
}

TEST_F(assembly_test, libvirts_word_on_a_death_follows_the_faster_signal) {
  start_one();
  mark();
  // `virsh destroy`: the agent's channel closes first, libvirt's event on
  // the same incarnation comes while the restart is under way.
  auto inc = incarnation_of("assy1");
  caf::anon_send(listener_of("assy1"),
                 msg::agent_gone{"assy1", inc, "agent channel closed"});
  caf::anon_send(hv->listeners.at("assy1"),
                 msg::domain_event{"assy1", inc,
                                   msg::domain_event_kind::stopped, "destroyed",
                                   false});
  sched.run();
  auto lines = lines_since_mark("dep1/assy1");
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.at(0), "dep1/assy1 RECOVERING: agent link lost: agent "
                         "channel closed -> restarting VM (1 of 3 in 300s)");
  EXPECT_EQ(lines.at(1), "dep1/assy1 RECOVERING: libvirt: VM stopped: "
                         "destroyed");
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}))
    << "one failure, one restart";
}

TEST_F(assembly_test, an_adopted_vm_and_its_resources_say_so) {
  // pcloudd restarted: the VM ran on, and so did httpd in it. Nothing was
  // started, and no event may say so.
  hv->running_domains = {"assy1"};
  start_one();
  EXPECT_EQ(lines_of("dep1/assy1").back(),
            "dep1/assy1 ACTIVE: VM adopted, agent fake connected");
  EXPECT_EQ(lines_of("dep1/assy1/httpd"),
            (strings{"dep1/assy1/httpd STARTING: VM adopted -> confirming",
                     "dep1/assy1/httpd ACTIVE: adopted (agent: started)"}));
  // The agent is asked to start it: a no-op for what runs, and it answers
  // with the resource's state.
  EXPECT_EQ(gw->calls, (strings{"attach assy1#1", "start assy1/httpd"}));
  // A VM restarted afterwards is no adoption.
  mark();
  kill_vm("assy1");
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd").back(),
            "dep1/assy1/httpd ACTIVE: restarted in 0s");
  EXPECT_NE(lines_since_mark("dep1/assy1")
              .back()
              .find("dep1/assy1 ACTIVE: VM restarted in"),
            std::string::npos)
    << lines_since_mark("dep1/assy1").back();
}

TEST_F(assembly_test, addresses_come_with_the_hello_and_change_after_it) {
  auto dep = start_one();
  auto inc = incarnation_of("assy1");
  caf::anon_send(listener_of("assy1"),
                 msg::agent_hello{"assy1",
                                  inc,
                                  msg::guest_protocol_version,
                                  "test",
                                  "boot",
                                  {"10.0.2.15"}});
  sched.run();
  EXPECT_EQ(status(dep).assemblies.at(0).addresses, strings{"10.0.2.15"});
  // A DHCP lease that came after the hello.
  caf::anon_send(listener_of("assy1"),
                 msg::agent_addresses{"assy1", inc, {"192.168.122.57"}});
  sched.run();
  EXPECT_EQ(status(dep).assemblies.at(0).addresses, strings{"192.168.122.57"});
  // A late one from an earlier incarnation changes nothing.
  caf::anon_send(listener_of("assy1"),
                 msg::agent_addresses{"assy1", inc - 1, {"10.9.9.9"}});
  sched.run();
  EXPECT_EQ(status(dep).assemblies.at(0).addresses, strings{"192.168.122.57"});
}

TEST_F(assembly_test, killed_vm_is_destroyed_and_started_again) {
  start_one();
  mark();
  kill_vm("assy1");
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}));
  EXPECT_EQ(gw->calls,
            (strings{"detach assy1", "attach assy1#2", "start assy1/httpd"}));
  EXPECT_EQ(lines_since_mark("dep1/assy1"),
            (strings{"dep1/assy1 RECOVERING: VM stopped: killed -> restarting "
                     "VM (1 of 3 in 300s)",
                     "dep1/assy1 ACTIVE: VM restarted in 0s"}));
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd"),
            (strings{"dep1/assy1/httpd RECOVERING: VM of assy1 lost: VM "
                     "stopped: killed -> waiting for VM",
                     "dep1/assy1/httpd RECOVERING: VM is back -> starting",
                     "dep1/assy1/httpd ACTIVE: restarted in 0s"}));
}

TEST_F(assembly_test, crash_and_shutdown_count_as_failures_too) {
  start_one();
  kill_vm("assy1", msg::domain_event_kind::crashed);
  advance(5s);
  kill_vm("assy1", msg::domain_event_kind::shutdown);
  advance(10s);
  EXPECT_EQ(hv->count("start assy1"), 3u);
}

TEST_F(assembly_test, second_vm_restart_waits_for_its_restart_delay) {
  start_one();
  kill_vm("assy1");
  mark();
  kill_vm("assy1");
  EXPECT_EQ(lines_since_mark("dep1/assy1"),
            strings{"dep1/assy1 RECOVERING: VM stopped: killed -> restarting "
                    "VM in 500 ms (2 of 3 in 300s)"});
  advance(499ms);
  EXPECT_EQ(hv->count("start assy1"), 0u);
  advance(1ms);
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}));
}

TEST_F(assembly_test, failures_during_a_restart_do_not_restart_twice) {
  start_one();
  kill_vm("assy1");
  kill_vm("assy1"); // restart delay of 500 ms
  mark();
  // The same death seen again by the other detection paths.
  kill_vm("assy1", msg::domain_event_kind::crashed);
  caf::anon_send(listener_of("assy1"),
                 msg::agent_gone{"assy1", incarnation_of("assy1"), "eof"});
  sched.run();
  EXPECT_TRUE(lines_since_mark("dep1/assy1").empty());
  advance(5s);
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}));
}

TEST_F(assembly_test, events_of_an_old_incarnation_are_ignored) {
  start_one();
  gw->auto_hello = false;
  kill_vm("assy1"); // incarnation 2 boots, no hello yet
  mark();
  // libvirt's late event about incarnation 1 (it comes ~2 s after a kill).
  caf::anon_send(hv->listeners.at("assy1"),
                 msg::domain_event{"assy1", 1, msg::domain_event_kind::stopped,
                                   "late", false});
  sched.run();
  EXPECT_TRUE(hv->calls.empty());
  say_hello("assy1");
  EXPECT_EQ(lines_since_mark("dep1/assy1"),
            strings{"dep1/assy1 ACTIVE: VM restarted in 0s"});
}

TEST_F(assembly_test, vm_dying_while_booting_is_a_new_failure) {
  start_one();
  gw->auto_hello = false;
  kill_vm("assy1");
  mark();
  kill_vm("assy1"); // incarnation 2 dies before its agent said hello
  EXPECT_EQ(lines_since_mark("dep1/assy1"),
            strings{"dep1/assy1 RECOVERING: VM stopped: killed -> restarting "
                    "VM in 500 ms (2 of 3 in 300s)"});
}

TEST_F(assembly_test, agent_silence_is_a_vm_failure) {
  start_one();
  mark();
  caf::anon_send(
    listener_of("assy1"),
    msg::agent_gone{"assy1", incarnation_of("assy1"), "idle timeout (3s)"});
  sched.run();
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}));
  auto ls = lines_since_mark("dep1/assy1");
  ASSERT_FALSE(ls.empty());
  EXPECT_EQ(ls.front(), "dep1/assy1 RECOVERING: agent link lost: idle timeout "
                        "(3s) -> restarting VM (1 of 3 in 300s)");
}

TEST_F(assembly_test, no_hello_within_the_boot_timeout_restarts_the_vm) {
  gw->auto_hello = false;
  start_one();
  advance(119s);
  EXPECT_EQ(hv->calls, strings{"start assy1"});
  advance(1s);
  EXPECT_EQ(hv->calls,
            (strings{"start assy1", "destroy assy1", "start assy1"}));
  EXPECT_EQ(lines_of("dep1/assy1")[1],
            "dep1/assy1 RECOVERING: agent did not say hello within 120s -> "
            "restarting VM (1 of 3 in 300s)");
}

TEST_F(assembly_test, a_slow_but_normal_boot_never_trips_the_boot_timeout) {
  gw->auto_hello = false;
  start_one();
  advance(119s);
  say_hello("assy1");
  advance(10min);
  EXPECT_EQ(hv->calls, strings{"start assy1"});
  EXPECT_EQ(lines_of("dep1/assy1").back(),
            "dep1/assy1 ACTIVE: agent test connected");
}

TEST_F(assembly_test, failed_domain_start_is_retried_with_backoff) {
  hv->failing_starts = 2;
  start_one();
  auto ls = lines_of("dep1/assy1");
  ASSERT_GE(ls.size(), 3u);
  EXPECT_EQ(ls[1], "dep1/assy1 RECOVERING: VM start failed: "
                   "scripted failure -> restarting "
                   "VM (1 of 3 in 300s)");
  EXPECT_EQ(hv->count("start assy1"), 2u);
  advance(499ms);
  EXPECT_EQ(hv->count("start assy1"), 2u);
  advance(1ms);
  EXPECT_EQ(hv->count("start assy1"), 3u);
  EXPECT_EQ(lines_of("dep1/assy1").back(),
            "dep1/assy1 ACTIVE: VM restarted in 500 ms");
}

TEST_F(assembly_test, stop_requested_by_pcloud_is_not_a_failure) {
  auto d = start_one();
  mark();
  caf::anon_send(d, msg::stop_atom::value);
  sched.run();
  EXPECT_EQ(hv->calls, strings{"shutdown assy1"});
  EXPECT_EQ(lines_since_mark("dep1/assy1"),
            strings{"dep1/assy1 STOPPED: stopped on request"});
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd"),
            strings{"dep1/assy1/httpd STOPPED: VM stopping"});
  advance(10min);
  EXPECT_EQ(hv->calls, strings{"shutdown assy1"});
}

TEST_F(assembly_test, per_assembly_settings_override_the_defaults) {
  auto a = make_assembly("assy1", {"httpd"});
  a.escalation = msg::no_escalation_policy();
  auto b = make_assembly("assy2", {"httpd"});
  start(make_deployable({a, b}));
  for (int i = 0; i < 10; ++i) {
    kill_vm("assy1");
  }
  EXPECT_EQ(hv->count("start assy1"), 11u) << "no backoff, no escalation";
  EXPECT_EQ(hv->count("destroy assy2"), 0u);
  kill_vm("assy2");
  kill_vm("assy2");
  EXPECT_EQ(hv->count("start assy2"), 2u) << "assy2 keeps the 5 s backoff";
}

TEST_F(assembly_test, status_reports_domain_and_restart_counts) {
  auto d = start_one();
  kill_vm("assy1");
  fail_resource("assy1", "httpd");
  auto st = status(d);
  ASSERT_EQ(st.assemblies.size(), 1u);
  auto& a = st.assemblies[0];
  EXPECT_EQ(a.state, msg::state::active);
  EXPECT_EQ(a.domain_name, "assy1-2");
  EXPECT_EQ(a.incarnation, 2u);
  EXPECT_EQ(a.restarts, 1u);
  EXPECT_EQ(a.failures_in_window, 1u);
  ASSERT_EQ(a.resources.size(), 1u);
  EXPECT_EQ(a.resources[0].restarts, 1u);
  EXPECT_EQ(a.resources[0].failures_in_window, 1u);
}
