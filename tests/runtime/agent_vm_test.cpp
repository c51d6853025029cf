// pcloud-agent in a real tiny guest under TCG, over the virtio-serial
// channel: the real hypervisor, the real gateway and the real tree. The
// guest's resource kills itself once (a SIGKILL inside the guest) and pcloud
// must bring it back; the host end of the link going away and coming back
// must not restart anything.
#include <signal.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/guest_link.hpp"
#include "tests/support/vm_tree.hpp"

using namespace pcloud;
using namespace pcloud::test;

namespace {

/// Runs once until it SIGKILLs itself a second after its start; runs for
/// good after pcloud restarted it (the marker survives in the guest's /tmp).
msg::resource_spec self_killing_worker() {
  msg::resource_spec r;
  r.name = "worker";
  r.resource_class = "exec";
  r.type = "sh -c 'if [ ! -e /tmp/killed-once ]; then touch /tmp/killed-once; "
           "sleep 1; kill -9 $$; fi; exec sleep 100000'";
  return r;
}

class agent_vm_test : public vm_tree_fixture {
public:
  explicit agent_vm_test(const std::string& assembly = "agentvm",
                         bool tcp = false)
      : vm_tree_fixture(false, assembly, true, tcp) {
    // nop
  }

  /// The guest's agent says hello, starts the worker and reports its
  /// SIGKILL; pcloud restarts the worker and leaves the VM alone.
  void expect_worker_killed_and_restarted() {
    start_deployable({self_killing_worker()});
    auto path = "dep1/" + name;
    ASSERT_TRUE(wait_event(path + " ACTIVE: agent")) << lines();
    EXPECT_TRUE(wait_event(path + "/worker ACTIVE: started (pid")) << lines();
    EXPECT_TRUE(
      wait_event(path + "/worker RECOVERING: killed by signal 9 (SIGKILL)"))
      << lines();
    EXPECT_TRUE(wait_event(path + "/worker ACTIVE: restarted in")) << lines();
    EXPECT_EQ(lines().find(path + " RECOVERING"), std::string::npos)
      << "a resource failure must not restart the VM\n"
      << lines();
  }
};

TEST_F(agent_vm_test, resource_killed_inside_the_guest_is_restarted) {
  expect_worker_killed_and_restarted();
}

TEST_F(agent_vm_test, httpd_stopped_inside_the_guest_fails_its_probe) {
  // busybox httpd SIGSTOPs itself a second after its first start: alive,
  // holding its port, answering no one. Only its probe can tell.
  msg::resource_spec r;
  r.name = "httpd";
  r.resource_class = "exec";
  r.type = "sh -c 'if [ ! -e /tmp/stopped-once ]; then touch /tmp/stopped-once;"
           " (sleep 1; kill -STOP $$) & fi; exec httpd -f -p 80 -h /www'";
  r.monitor_interval = std::chrono::hours(1); // the probe, not the state check
  r.probe.kind = "http";
  r.probe.port = 80;
  start_deployable({r});
  auto path = "dep1/" + name + "/httpd";
  ASSERT_TRUE(wait_event(path + " ACTIVE: started (pid")) << lines();
  EXPECT_TRUE(wait_event(", ready in ")) << lines();
  EXPECT_TRUE(wait_event(path
                         + " RECOVERING: hung: http 127.0.0.1:80/ failed "
                           "3 times (timed out after 500ms)"))
    << lines();
  EXPECT_TRUE(wait_event(path + " ACTIVE: restarted in")) << lines();
  EXPECT_EQ(lines().find("dep1/" + name + " RECOVERING"), std::string::npos)
    << "a hung service must not restart the VM\n"
    << lines();
}

/// A guest without the virtio-serial channel: its agent reads pcloud.host=
/// and its secret from SMBIOS and reaches the gateway's TCP listener through
/// user-mode networking.
class agent_tcp_vm_test : public agent_vm_test {
public:
  agent_tcp_vm_test() : agent_vm_test("agenttcp", true) {
    // nop
  }
};

TEST_F(agent_tcp_vm_test, agent_on_tcp_alone_is_served_and_a_kill_recovered) {
  ASSERT_NE(agent_port, 0);
  expect_worker_killed_and_restarted();
  // QEMU makes the host end of a channel in STATE/run: there is none.
  for (auto& entry :
       std::filesystem::directory_iterator{env.state_dir + "/run"}) {
    EXPECT_NE(entry.path().extension(), ".agent")
      << "a tcp-transport domain has a channel: " << entry.path();
  }
  // The agent proved itself with this incarnation's secret, which no
  // process's command line shows (ps as any user reads them all).
  std::ifstream boot{env.state_dir + "/run/agenttcp.boot"};
  std::string word, secret;
  while (boot >> word) {
    if (word.rfind("pcloud.secret=", 0) == 0) {
      secret = word.substr(14);
    }
  }
  ASSERT_EQ(secret.size(), 64u);
  EXPECT_EQ(
    std::filesystem::status(env.state_dir + "/run/agenttcp.boot").permissions(),
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  for (auto& entry : std::filesystem::directory_iterator{"/proc"}) {
    std::ifstream in{entry.path() / "cmdline", std::ios::binary};
    std::string cmdline{std::istreambuf_iterator<char>(in),
                        std::istreambuf_iterator<char>()};
    EXPECT_EQ(cmdline.find(secret), std::string::npos)
      << "the secret is on the command line of " << entry.path();
  }
}

TEST_F(agent_vm_test, stopped_guest_trips_the_idle_timeout) {
  start_deployable();
  ASSERT_TRUE(wait_event("dep1/agentvm ACTIVE: agent")) << lines();
  auto pid = env.qemu_pid(domain());
  ASSERT_TRUE(pid);
  auto mark = events->items().size();
  ASSERT_EQ(kill(*pid, SIGSTOP), 0);
  auto stopped_at = std::chrono::steady_clock::now();
  bool seen = wait_event("dep1/agentvm RECOVERING: agent link lost: guest "
                         "unresponsive",
                         mark);
  auto detected = std::chrono::steady_clock::now() - stopped_at;
  kill(*pid, SIGCONT);
  ASSERT_TRUE(seen) << lines();
  std::printf(
    "hung guest detected after %lld ms\n",
    static_cast<long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(detected).count()));
  EXPECT_TRUE(wait_event("dep1/agentvm ACTIVE: VM restarted in", mark))
    << lines();
}

} // namespace

namespace {

/// The hypervisor and the gateway without the tree: the test plays the
/// assembly, so it can drop the host end of the link and attach again.
class agent_link_vm_test : public ::testing::Test {
public:
  agent_link_vm_test() : sys(cfg) {
    auto hv_res = runtime::spawn_hypervisor(sys, env.options());
    EXPECT_TRUE(hv_res) << hv_res.error();
    if (hv_res) {
      hv = *hv_res;
    }
    gateway = runtime::spawn_guest_gateway(sys);
    domains = spawn_domain_recorder(sys, domain_events);
  }

  ~agent_link_vm_test() override {
    if (hv) {
      // Its own scope: a live scoped_actor would keep the system waiting.
      caf::scoped_actor self{sys};
      self->request(hv, 60s, msg::destroy_atom::value, spec.name)
        .receive([](caf::ok_atom) {}, [](caf::error&) {});
    }
    for (auto& l : listeners) {
      caf::anon_send_exit(l, caf::exit_reason::user_shutdown);
    }
    test::stop_all({caf::actor_cast<caf::actor>(hv),
                    caf::actor_cast<caf::actor>(gateway),
                    caf::actor_cast<caf::actor>(domains)});
    sys.await_all_actors_done();
  }

  relayed& attach() {
    auto& r = links.emplace_back();
    listeners.push_back(r.spawn_listener(sys));
    caf::anon_send(gateway, msg::attach_atom::value, info, spec.resources,
                   listeners.back());
    return r;
  }

  vm_environment env;
  live_config cfg;
  caf::actor_system sys;
  msg::hypervisor_actor hv;
  msg::guest_gateway_actor gateway;
  std::shared_ptr<sink<msg::domain_event>> domain_events
    = std::make_shared<sink<msg::domain_event>>();
  msg::domain_listener_actor domains;
  msg::assembly_spec spec = make_assembly("linkvm", {});
  msg::domain_info info;
  std::deque<relayed> links;
  std::vector<msg::guest_listener_actor> listeners;
};

TEST_F(agent_link_vm_test, host_end_reopened_agent_reports_again_no_restart) {
  ASSERT_TRUE(hv);
  msg::resource_spec worker;
  worker.name = "worker";
  worker.resource_class = "exec";
  worker.type = "sleep 100000";
  spec.resources = {worker};
  caf::scoped_actor self{sys};
  self->request(hv, vm_timeout, msg::start_atom::value, spec, domains)
    .receive([&](msg::domain_info& x) { info = x; },
             [&](caf::error& e) { FAIL() << sys.render(e); });
  ASSERT_FALSE(info.agent_channel.empty());
  auto& first = attach();
  ASSERT_TRUE(first.wait_hellos(1, vm_timeout));
  caf::anon_send(
    gateway,
    msg::resource_command{spec.name, "worker", msg::resource_operation::start});
  ASSERT_TRUE(
    first.wait_report("worker", msg::resource_condition::running, 0, 60s));
  auto started = first.reports->items().back().cause; // "started (pid N)"
  auto boot = first.hellos->items().front().boot_id;
  // The host end goes away, as when pcloudd restarts, and comes back.
  caf::anon_send(gateway, msg::detach_atom::value, spec.name);
  auto& second = attach();
  ASSERT_TRUE(second.wait_hellos(1, 60s)) << env.console(spec.name);
  EXPECT_EQ(second.hellos->items().front().boot_id, boot)
    << "the guest must not have rebooted";
  ASSERT_TRUE(
    second.wait_report("worker", msg::resource_condition::running, 0, 60s));
  EXPECT_EQ(second.reports->items().back().cause, started)
    << "the agent must report the same process, not restart it";
  EXPECT_TRUE(second.gone->items().empty());
}

} // namespace
