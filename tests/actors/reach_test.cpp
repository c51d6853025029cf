// ACTIVE means a client can reach it: an assembly on a libvirt network waits
// for its guest's address, and a resource with a port waits until the host
// has seen its service answer there (or at its forward), on the
// deterministic scheduler with a fake prober.
#include "tests/support/tree_fixture.hpp"

using namespace pcloud;
using namespace pcloud::test;
using strings = std::vector<std::string>;

namespace {

class reach_test : public tree_fixture {
public:
  /// assy1 with httpd serving port 80 (forwarded from 20080) on `network`.
  msg::deployable_actor start_web(const std::string& network,
                                  msg::probe_spec probe = {}) {
    auto a = make_assembly("assy1", {"httpd"});
    a.network = network;
    a.boot_timeout = std::chrono::minutes(2);
    a.resources[0].ports.push_back({"http", "tcp", 80, 20080});
    a.resources[0].probe = std::move(probe);
    return start(make_deployable({a}));
  }

  void addresses(std::vector<std::string> xs) {
    caf::anon_send(
      listener_of("assy1"),
      msg::agent_addresses{"assy1", incarnation_of("assy1"), std::move(xs)});
    sched.run();
  }

  msg::resource_status httpd(const msg::deployable_actor& d) {
    return status(d).assemblies.at(0).resources.at(0);
  }
};

} // namespace

TEST_F(reach_test, a_forwarded_service_is_active_once_it_answers_there) {
  pr->reachable = false;
  auto dep = start_web("user");
  EXPECT_EQ(pr->calls, strings{"tcp 127.0.0.1:20080 (forwarded)"});
  auto s = httpd(dep);
  EXPECT_EQ(s.state, msg::state::starting);
  EXPECT_EQ(s.reason,
            "waiting for port 80 at 127.0.0.1:20080 (connection refused)");
  EXPECT_EQ(status(dep).state, msg::state::starting)
    << "no client gets an answer yet";
  // Asked again, every 250 ms, until it answers.
  advance(249ms);
  EXPECT_EQ(pr->calls.size(), 1u);
  advance(1ms);
  EXPECT_EQ(pr->calls.size(), 2u);
  pr->reachable = true;
  advance(250ms);
  EXPECT_EQ(lines_of("dep1/assy1/httpd"),
            (strings{"dep1/assy1/httpd STARTING: agent ready -> starting",
                     "dep1/assy1/httpd ACTIVE: started; answers at "
                     "127.0.0.1:20080"}));
  EXPECT_EQ(status(dep).state, msg::state::active);
  advance(10s);
  EXPECT_EQ(pr->calls.size(), 3u) << "no checks once it answered";
}

TEST_F(reach_test, on_a_libvirt_network_active_waits_for_the_address) {
  auto dep = start_web("net1");
  // The hello had no address: the resource starts, nothing is checked.
  EXPECT_EQ(gw->count("start assy1/httpd"), 1u);
  EXPECT_TRUE(pr->calls.empty());
  auto a = status(dep).assemblies.at(0);
  EXPECT_EQ(a.state, msg::state::starting);
  EXPECT_EQ(a.reason, "agent fake connected, waiting for an address");
  EXPECT_EQ(a.resources.at(0).reason, "waiting for an address");
  // A link-local IPv6 address serves no client on an IPv4 network.
  addresses({"fe80::5054:ff:fe12:3456"});
  EXPECT_EQ(status(dep).assemblies.at(0).state, msg::state::starting);
  addresses({"fe80::5054:ff:fe12:3456", "192.0.2.7"});
  EXPECT_EQ(pr->calls, strings{"tcp 192.0.2.7:80"}) << "the guest port";
  EXPECT_EQ(lines_of("dep1/assy1"),
            (strings{"dep1/assy1 STARTING: start requested -> starting VM",
                     "dep1/assy1 ACTIVE: agent fake connected, address "
                     "192.0.2.7"}));
  EXPECT_EQ(lines_of("dep1/assy1/httpd").back(),
            "dep1/assy1/httpd ACTIVE: started; answers at 192.0.2.7:80");
  EXPECT_EQ(status(dep).state, msg::state::active);
}

TEST_F(reach_test, no_address_within_the_boot_timeout_is_a_vm_failure) {
  start_web("net1");
  mark();
  advance(2min);
  EXPECT_EQ(lines_since_mark("dep1/assy1").at(0),
            "dep1/assy1 RECOVERING: no address on network net1 within 120s "
            "-> restarting VM (1 of 3 in 300s)");
  EXPECT_EQ(hv->calls, (strings{"destroy assy1", "start assy1"}));
}

TEST_F(reach_test, an_http_probe_of_the_port_is_what_the_host_asks_too) {
  msg::probe_spec probe;
  probe.kind = "http";
  probe.port = 80;
  probe.path = "/healthz";
  start_web("user", probe);
  EXPECT_EQ(pr->calls, strings{"http 127.0.0.1:20080/healthz (forwarded)"});
}

TEST_F(reach_test, recovery_ends_when_the_service_answers_again) {
  auto dep = start_web("net1");
  addresses({"192.0.2.7"});
  ASSERT_EQ(status(dep).state, msg::state::active);
  mark();
  pr->reachable = false;
  kill_vm("assy1");
  // The new incarnation's hello has no address yet: no stale one is used.
  EXPECT_TRUE(pr->calls.empty());
  EXPECT_TRUE(status(dep).assemblies.at(0).addresses.empty());
  addresses({"192.0.2.8"});
  EXPECT_EQ(pr->calls, strings{"tcp 192.0.2.8:80"});
  EXPECT_EQ(httpd(dep).state, msg::state::recovering);
  advance(750ms); // three more refusals
  pr->reachable = true;
  advance(250ms);
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd").back(),
            "dep1/assy1/httpd ACTIVE: restarted in 1s");
  auto active = std::find_if(events->rbegin(), events->rend(), [](auto& ev) {
    return ev.resource == "httpd" && ev.state == msg::state::active;
  });
  ASSERT_NE(active, events->rend());
  EXPECT_EQ(active->downtime, 1s) << "measured to the answer";
}

TEST_F(reach_test, a_silent_prober_is_asked_again) {
  pr->silent = true;
  auto dep = start_web("user");
  EXPECT_EQ(pr->calls.size(), 1u);
  advance(1499ms); // the check's timeout (500 ms) and a second of grace
  EXPECT_EQ(pr->calls.size(), 1u);
  advance(1ms);
  EXPECT_EQ(pr->calls.size(), 2u);
  EXPECT_EQ(httpd(dep).state, msg::state::starting);
}

TEST_F(reach_test, without_a_network_nothing_is_checked) {
  auto dep = start_web("none");
  EXPECT_TRUE(pr->calls.empty());
  EXPECT_EQ(status(dep).state, msg::state::active);
}

TEST_F(reach_test, a_failure_while_waiting_stops_the_checks) {
  pr->reachable = false;
  auto dep = start_web("user");
  mark();
  gw->auto_running = false; // the restarted httpd does not come back
  fail_resource("assy1", "httpd");
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
  advance(10s);
  EXPECT_TRUE(pr->calls.empty()) << "the check of the failed run stopped";
  EXPECT_EQ(httpd(dep).state, msg::state::recovering);
}

TEST_F(reach_test, an_address_that_changes_is_an_event_and_the_new_route) {
  auto dep = start_web("net1");
  addresses({"192.0.2.7"});
  mark();
  addresses({"192.0.2.9"});
  EXPECT_EQ(lines_since_mark("dep1/assy1"),
            strings{"dep1/assy1 ACTIVE: address now 192.0.2.9 (was "
                    "192.0.2.7)"});
  EXPECT_EQ(status(dep).assemblies.at(0).addresses, strings{"192.0.2.9"});
  // Its resources are checked there from their next start on.
  fail_resource("assy1", "httpd");
  EXPECT_EQ(pr->calls, strings{"tcp 192.0.2.9:80"});
}

TEST_F(reach_test, an_address_outside_the_networks_subnet_is_not_used) {
  hv->subnets["net1"] = {"192.0.2.0/24"};
  auto dep = start_web("net1");
  // A guest that names an address elsewhere (another host's, the host's
  // own) is not checked there, nor taken for its address.
  addresses({"198.51.100.4"});
  EXPECT_TRUE(pr->calls.empty());
  auto a = status(dep).assemblies.at(0);
  EXPECT_EQ(a.state, msg::state::starting);
  EXPECT_EQ(a.service_address, "");
  addresses({"198.51.100.4", "192.0.2.7"});
  EXPECT_EQ(pr->calls, strings{"tcp 192.0.2.7:80"});
  EXPECT_EQ(status(dep).assemblies.at(0).service_address, "192.0.2.7");
  EXPECT_EQ(status(dep).state, msg::state::active);
}

TEST_F(reach_test, only_the_address_dhcp_leased_to_the_guest_is_used) {
  hv->subnets["net1"] = {"192.0.2.0/24"};
  hv->leases["assy1"] = {"192.0.2.8"};
  auto dep = start_web("net1");
  // A guest root names a neighbour's address in the same subnet: its own
  // resources would look reachable, and the host would knock on the
  // neighbour's door. libvirt leased it .8, so .7 is not used.
  addresses({"192.0.2.7"});
  EXPECT_TRUE(pr->calls.empty());
  EXPECT_EQ(status(dep).assemblies.at(0).service_address, "");
  EXPECT_EQ(status(dep).state, msg::state::starting);
  // Asked again every 250 ms, 40 times at most (dnsmasq tells libvirt of a
  // lease a moment after the guest has it), then it waits for new words.
  advance(10s);
  EXPECT_TRUE(pr->calls.empty());
  EXPECT_EQ(status(dep).assemblies.at(0).reason,
            "agent fake connected, waiting for an address");
  addresses({"192.0.2.8"});
  EXPECT_EQ(pr->calls, strings{"tcp 192.0.2.8:80"});
  EXPECT_EQ(status(dep).assemblies.at(0).service_address, "192.0.2.8");
  EXPECT_EQ(status(dep).state, msg::state::active);
}

TEST_F(reach_test, a_lease_libvirt_learns_late_is_picked_up) {
  hv->subnets["net1"] = {"192.0.2.0/24"};
  hv->leases["assy1"] = {};
  auto dep = start_web("net1");
  addresses({"192.0.2.7"});
  EXPECT_EQ(status(dep).state, msg::state::starting);
  hv->leases["assy1"] = {"192.0.2.7"};
  advance(249ms);
  EXPECT_EQ(status(dep).state, msg::state::starting);
  advance(1ms);
  EXPECT_EQ(pr->calls, strings{"tcp 192.0.2.7:80"});
  EXPECT_EQ(status(dep).state, msg::state::active);
  // A new address while ACTIVE is used once its lease is known too.
  hv->leases["assy1"] = {"192.0.2.7", "192.0.2.9"};
  addresses({"192.0.2.9"});
  EXPECT_EQ(status(dep).assemblies.at(0).service_address, "192.0.2.9");
}

TEST_F(reach_test, a_vm_failure_forgets_the_lease) {
  hv->subnets["net1"] = {"192.0.2.0/24"};
  hv->leases["assy1"] = {"192.0.2.7"};
  auto dep = start_web("net1");
  addresses({"192.0.2.7"});
  ASSERT_EQ(status(dep).state, msg::state::active);
  hv->leases["assy1"] = {"192.0.2.10"};
  kill_vm("assy1");
  // The new incarnation names the old address: no longer its lease.
  addresses({"192.0.2.7"});
  EXPECT_EQ(status(dep).assemblies.at(0).service_address, "");
  addresses({"192.0.2.10"});
  EXPECT_EQ(status(dep).assemblies.at(0).service_address, "192.0.2.10");
}

TEST(service_address, is_the_first_ipv4_address_in_the_subnets) {
  EXPECT_EQ(
    msg::service_address({"fe80::1", "127.0.0.1", "169.254.3.4", "10.0.2.15"}),
    "10.0.2.15");
  EXPECT_EQ(msg::service_address({"10.0.2.15", "192.0.2.7"}, {"192.0.2.0/24"}),
            "192.0.2.7");
  EXPECT_EQ(msg::service_address({"10.0.2.15"}, {"192.0.2.0/24"}), "");
  EXPECT_EQ(msg::service_address({"not an address", "300.1.1.1"}), "");
  EXPECT_TRUE(msg::in_subnet("10.213.5.101", "10.213.5.1/24"));
  EXPECT_FALSE(msg::in_subnet("10.213.6.101", "10.213.5.1/24"));
  EXPECT_TRUE(msg::in_subnet("8.8.8.8", "0.0.0.0/0"));
  EXPECT_FALSE(msg::in_subnet("10.0.0.1", "10.0.0.0/33"));
  EXPECT_FALSE(msg::in_subnet("10.0.0.1", "10.0.0.0"));
}

TEST(service_address, is_ipv6_only_on_an_ipv6_only_network) {
  std::vector<std::string> v6{"fd00:5::/64"};
  // Link-local, loopback, multicast, IPv4-mapped and outside: not taken.
  EXPECT_EQ(
    msg::service_address({"fe80::1", "::1", "ff02::1", "::ffff:10.0.0.1",
                          "fd00:6::7", "10.0.0.1", "fd00:5::7"},
                         v6),
    "fd00:5::7");
  EXPECT_EQ(msg::service_address({"fe80::1", "10.0.0.1"}, v6), "");
  // With an IPv4 subnet as well, IPv4 it is.
  EXPECT_EQ(msg::service_address({"fd00:5::7", "10.0.0.1"},
                                 {"fd00:5::/64", "10.0.0.0/24"}),
            "10.0.0.1");
  EXPECT_TRUE(msg::in_subnet("fd00:5::7", "fd00:5::1/64"));
  EXPECT_TRUE(msg::in_subnet("fd00:5::7", "fd00:5::/61"));
  EXPECT_FALSE(msg::in_subnet("fd00:6::7", "fd00:5::1/64"));
  EXPECT_FALSE(msg::in_subnet("fd00:5::7", "fd00:5::/129"));
  EXPECT_FALSE(msg::in_subnet("fd00:5::7", "fd00:5::/x"));
  EXPECT_FALSE(msg::in_subnet("10.0.0.1", "::/0"));
  EXPECT_TRUE(msg::in_subnet("2001:db8::1", "::/0"));
}

TEST_F(reach_test, a_failure_while_recovering_and_checking_is_counted) {
  auto dep = start_web("user");
  pr->reachable = false;
  fail_resource("assy1", "httpd"); // restarted at once, now being checked
  ASSERT_EQ(httpd(dep).state, msg::state::recovering);
  mark();
  fail_resource("assy1", "httpd"); // it died again before it answered
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd"),
            strings{"dep1/assy1/httpd RECOVERING: killed by signal 9 -> "
                    "restarting in 500 ms (2 of 5 in 60s)"});
  advance(500ms);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
}

TEST_F(reach_test, never_reachable_from_the_host_is_a_failed_start) {
  pr->reachable = false;
  auto dep = start_web("user");
  mark();
  advance(59s);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 0u);
  advance(1s);
  EXPECT_EQ(lines_since_mark("dep1/assy1/httpd").at(0),
            "dep1/assy1/httpd RECOVERING: start failed: not reachable from "
            "the host within 60s (connection refused) -> restarting (1 of 5 "
            "in 60s)");
  EXPECT_EQ(gw->count("restart assy1/httpd"), 1u);
}

TEST_F(reach_test, the_deadline_starts_again_at_a_new_address) {
  pr->reachable = false;
  start_web("net1");
  addresses({"192.0.2.7"});
  advance(50s);
  addresses({"192.0.2.8"}); // a new lease: checked there, afresh
  mark();
  advance(50s);
  EXPECT_EQ(gw->count("restart assy1/httpd"), 0u);
  EXPECT_EQ(pr->calls.back(), "tcp 192.0.2.8:80");
}
