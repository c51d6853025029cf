// pcloudd on qemu:///embed with a real tiny guest (TCG) and the real agent:
// a deployable started through pcloudsh, pcloudd killed with SIGKILL and
// started again, the VM adopted (not restarted), and a failure afterwards
// still recovered. Two assemblies serve HTTP to the host through their port
// forwards, before and after each kind of failure and a daemon restart.
// Under attack (daemon_vm_security, doc/security.md): a peer without the
// token and 2,000 idle connections while a VM is killed; it comes back.
// Without an agent (daemon_vm_agentless): a guest that serves by itself,
// its service stopped inside and its VM restarted, then adopted.
#include <regex>

#include "tests/support/attackers.hpp"
#include "tests/support/client_namespace.hpp"
#include "tests/support/http.hpp"
#include "tests/support/terminal.hpp"

namespace {

using namespace pcloud::test;

/// TCG boots take seconds and the first start of an embed root probes
/// QEMU; CI machines are shared.
constexpr auto vm_timeout = 240s;

class daemon_vm : public daemon_fixture {
protected:
  // The root lies where tests/runtime/sweep_vms.sh finds leftover guests.
  daemon_vm()
      : daemon_fixture("/tmp/pcloud-vm-test-" + std::to_string(::getpid())
                         + "-daemon-XXXXXX",
                       "") {
    uri = "qemu:///embed?root=" + dir + "/root";
    fs::create_directories(dir + "/images");
    fs::copy(PCLOUD_TINY_JEOS_DIR, dir + "/images/tiny");
    // Forwards listen only where the test's own client namespace reaches.
    daemon_args = {"--forward-address", client.host_address()};
  }

  ~daemon_vm() override {
    if (daemon_pid > 0) {
      // Stop the guests while pcloudd can still reach them.
      sh({"deployable_stop", "dep1"});
    }
    for (auto assembly : {"assy1", "assy2"}) {
      if (auto pid = qemu_pid(assembly)) {
        ::kill(pid, SIGKILL);
      }
    }
  }

  pid_t qemu_pid(const std::string& assembly = "assy1") {
    std::ifstream in{dir + "/root/run/qemu/pcloud-" + assembly + ".pid"};
    pid_t pid = 0;
    in >> pid;
    return pid > 0 && ::kill(pid, 0) == 0 ? pid : 0;
  }

  bool status_matches(const std::string& pattern) {
    std::regex re{pattern};
    return wait_until(
      [&] {
        return std::regex_search(sh({"deployable_status", "dep1"}).out, re);
      },
      vm_timeout);
  }

  std::string status() { return sh({"deployable_status", "dep1"}).out; }

  /// The host port `assembly_list` says the assembly's www answers on.
  uint16_t http_port_of(const std::string& assembly) {
    std::smatch m;
    auto list = sh({"assembly_list"}).out;
    std::regex re{assembly + " .* www http " + forward_pattern()
                  + ":([0-9]+) -> 80"};
    return std::regex_search(list, m, re)
             ? static_cast<uint16_t>(std::stoi(m[1].str()))
             : 0;
  }

  void SetUp() override {
    ASSERT_TRUE(client.ok()) << "could not make the client's namespace";
  }

  /// The test's client: its own namespace, a veth to the forwards.
  client_namespace client{"dvm"};

  /// assy1 with www (httpd), in dep1, started and ACTIVE.
  void start_web() {
    auto r = sh({}, R"(assembly_create assy1 tiny x86_64
assembly_resource_add www httpd assy1
deployable_create dep1
deployable_assembly_add dep1 assy1
deployable_start dep1
)");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE +0"))
      << status() << slurp(dir + "/pcloudd.log");
  }

  /// The forward address as a regex.
  std::string forward_pattern() const {
    return std::regex_replace(client.host_address(), std::regex{"\\."}, "\\.");
  }

  /// GET / on a forward, from the client's namespace.
  http_answer get(uint16_t port) const {
    return client.http_get(client.host_address(), port);
  }

  /// Waits until the guest's httpd answers 200 through the forward; its page
  /// (the guest's boot id), or empty.
  std::string serving(uint16_t port) {
    std::string body;
    wait_until(
      [&] {
        auto answer = get(port);
        body = answer.body;
        return answer.status == 200;
      },
      vm_timeout);
    return body;
  }
};

TEST_F(daemon_vm, a_restarted_daemon_adopts_the_running_vm_and_resumes) {
  start_daemon();
  ASSERT_NO_FATAL_FAILURE(start_web());
  auto pid = qemu_pid();
  ASSERT_NE(pid, 0);

  {
    // As the original's users did: log in to the guest and kill httpd.
    terminal console{dir, {"assembly_console", "assy1"}};
    ASSERT_TRUE(console.expect("Ctrl-] detaches")) << console.screen();
    console.type("echo pcloud-$((6*7))\r");
    ASSERT_TRUE(console.expect("pcloud-42")) << console.screen();
    console.type("killall -9 httpd\r");
    ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE +1"))
      << status() << slurp(dir + "/pcloudd.log");
    console.type("\x1d");
    EXPECT_EQ(console.wait_exit(), 0) << console.screen();
  }
  EXPECT_EQ(qemu_pid(), pid) << "a resource failure restarts no VM";

  stop_daemon(SIGKILL);
  start_daemon();
  ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE"))
    << status() << slurp(dir + "/pcloudd.log");
  EXPECT_EQ(qemu_pid(), pid) << "the VM was restarted, not adopted";
  EXPECT_TRUE(std::regex_search(status(), std::regex{"dep1/assy1 +ACTIVE +0"}))
    << status();
  EXPECT_TRUE(wait_until([&] {
    return slurp(dir + "/pcloudd.log").find("adopted pcloud-assy1")
           != std::string::npos;
  }))
    << "the log says so";

  // SIGTERM: a clean exit that leaves the VM running; the next start
  // adopts it too.
  auto exit_status = stop_daemon(SIGTERM);
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0)
    << exit_status;
  EXPECT_EQ(qemu_pid(), pid) << "SIGTERM leaves the VMs running";
  start_daemon();
  ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE"))
    << status() << slurp(dir + "/pcloudd.log");
  EXPECT_EQ(qemu_pid(), pid) << "the VM was restarted, not adopted";

  // Monitoring resumed: a VM failure after the adoption is recovered.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(status_matches("dep1/assy1 +ACTIVE +1"))
    << status() << slurp(dir + "/pcloudd.log");
  ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE"));
  EXPECT_NE(qemu_pid(), pid);

  auto r = sh({"deployable_stop", "dep1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(wait_until([&] { return qemu_pid() == 0; }, vm_timeout))
    << "deployable_stop leaves no VM";
}

TEST_F(daemon_vm, services_answer_on_their_host_ports_across_failures) {
  // A range of its own: tests on one host never race for a port.
  // Below the kernel's ephemeral ports (32768 and up).
  auto first = 26000 + (::getpid() % 60) * 100;
  daemon_args.push_back("--forward-ports");
  daemon_args.push_back(std::to_string(first) + "-"
                        + std::to_string(first + 99));
  start_daemon();
  auto r = sh({}, R"(assembly_create assy1 tiny x86_64
assembly_resource_add www httpd assy1
assembly_clone assy1 assy2
deployable_create dep1
deployable_assembly_add dep1 assy1
deployable_assembly_add dep1 assy2
deployable_start dep1
)");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  auto port1 = http_port_of("assy1");
  auto port2 = http_port_of("assy2");
  ASSERT_EQ(port1, first + 80) << sh({"assembly_list"}).out;
  ASSERT_EQ(port2, first + 81) << "a clone has its own host port";
  ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE +0 +http "
                             + forward_pattern() + ":" + std::to_string(port1)
                             + " -> 80"))
    << status() << slurp(dir + "/pcloudd.log");
  ASSERT_TRUE(status_matches("dep1/assy2/www +ACTIVE +0"));
  auto boot1 = serving(port1);
  auto boot2 = serving(port2);
  ASSERT_NE(boot1.find("pcloud-tiny: "), std::string::npos) << boot1;
  ASSERT_NE(boot2.find("pcloud-tiny: "), std::string::npos) << boot2;
  EXPECT_NE(boot1, boot2) << "two guests, two pages";

  {
    terminal console{dir, {"assembly_console", "assy1"}};
    ASSERT_TRUE(console.expect("Ctrl-] detaches")) << console.screen();
    console.type("killall -9 httpd\r");
    ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE +1"))
      << status() << slurp(dir + "/pcloudd.log");
    console.type("\x1d");
    EXPECT_EQ(console.wait_exit(), 0) << console.screen();
  }
  EXPECT_EQ(serving(port1), boot1) << "httpd restarted inside the same guest";

  // Forced off from outside (embed: no other process can open the domain).
  auto pid2 = qemu_pid("assy2");
  ASSERT_NE(pid2, 0);
  ASSERT_EQ(::kill(pid2, SIGTERM), 0);
  ASSERT_TRUE(status_matches("dep1/assy2 +ACTIVE +1"))
    << status() << slurp(dir + "/pcloudd.log");
  auto reboot2 = serving(port2);
  ASSERT_NE(reboot2.find("pcloud-tiny: "), std::string::npos)
    << "the restarted VM answers on the same host port";
  EXPECT_NE(reboot2, boot2) << "a new boot";

  // A daemon restart keeps both ports: the VMs are adopted as they run.
  stop_daemon(SIGKILL);
  start_daemon();
  ASSERT_TRUE(status_matches("dep1/assy2/www +ACTIVE"))
    << status() << slurp(dir + "/pcloudd.log");
  EXPECT_EQ(http_port_of("assy1"), port1);
  EXPECT_EQ(http_port_of("assy2"), port2);
  EXPECT_EQ(serving(port1), boot1);
  EXPECT_EQ(serving(port2), reboot2);

  r = sh({"deployable_stop", "dep1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(wait_until([&] { return get(port1).status == 0; }))
    << "no VM, no answer";
}

/// The tiny JEOS built without the agent in place of tiny: a guest that
/// serves HTTP by itself, as an imported appliance would.
class daemon_vm_agentless : public daemon_vm {
protected:
  daemon_vm_agentless() {
    fs::remove_all(dir + "/images/tiny");
    fs::copy(PCLOUD_TINY_BARE_JEOS_DIR, dir + "/images/tiny");
  }
};

TEST_F(daemon_vm_agentless, a_guest_without_an_agent_is_watched_and_recovered) {
  auto first = 17000 + (::getpid() % 60) * 100;
  daemon_args.push_back("--forward-ports");
  daemon_args.push_back(std::to_string(first) + "-"
                        + std::to_string(first + 99));
  start_daemon();
  auto r = sh({}, R"(assembly_create assy1 tiny x86_64
assembly_set assy1 transport none
assembly_resource_add www httpd assy1
deployable_create dep1
deployable_assembly_add dep1 assy1
deployable_start dep1
)");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(sh({"assembly_list"}).out.find(" none "), std::string::npos)
    << "the list shows that it has no agent";
  ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE +0"))
    << status() << slurp(dir + "/pcloudd.log");
  auto port = http_port_of("assy1");
  auto boot = serving(port);
  ASSERT_NE(boot.find("pcloud-tiny: "), std::string::npos) << boot;

  // Its service stopped inside: nobody there restarts it, so the host's
  // checks fail past the httpd template's threshold and the VM restarts.
  {
    terminal console{dir, {"assembly_console", "assy1"}};
    ASSERT_TRUE(console.expect("Ctrl-] detaches")) << console.screen();
    console.type("killall -9 httpd\r");
    ASSERT_TRUE(status_matches("dep1/assy1 +ACTIVE +1"))
      << status() << slurp(dir + "/pcloudd.log");
    // The console it showed went with that VM.
    EXPECT_EQ(console.wait_exit(), 1) << console.screen();
  }
  auto reboot = serving(port);
  ASSERT_NE(reboot.find("pcloud-tiny: "), std::string::npos) << reboot;
  EXPECT_NE(reboot, boot) << "a new boot serves it";
  EXPECT_NE(
    slurp(dir + "/pcloudd.log").find("dep1/assy1/www FAILED: no answer at "),
    std::string::npos);

  // A daemon restart adopts it as it runs: watched again, not restarted.
  stop_daemon(SIGKILL);
  start_daemon();
  ASSERT_TRUE(status_matches("dep1/assy1/www +ACTIVE"))
    << status() << slurp(dir + "/pcloudd.log");
  EXPECT_EQ(serving(port), reboot);
  EXPECT_NE(status().find("VM adopted, no agent"), std::string::npos)
    << status();
}

/// Attacks while a real VM has to be recovered: the attacks' suite name
/// gives them the label security too.
class daemon_vm_security : public daemon_vm {};

TEST_F(daemon_vm_security, a_killed_vm_comes_back_under_attack) {
  auto first = 15000 + (::getpid() % 60) * 100;
  daemon_args.push_back("--forward-ports");
  daemon_args.push_back(std::to_string(first) + "-"
                        + std::to_string(first + 99));
  start_daemon();
  ASSERT_NO_FATAL_FAILURE(start_web());
  auto port = http_port_of("assy1");
  auto boot = serving(port);
  ASSERT_FALSE(boot.empty());

  // The reproduced attack: CAF's own client, no token. It gets no actor,
  // so nothing to send exit, kill or a link to.
  EXPECT_FALSE(caf_client_gets_an_actor(control_port(dir)));

  // 2,000 idle connections, every tenth announcing a 4 GiB payload, held
  // while the VM is killed.
  constexpr size_t flood = 2000;
  ASSERT_TRUE(allow_descriptors(flood + 200)) << "this test needs them";
  auto before = rss_kb(daemon_pid);
  std::string why;
  auto idle = idle_flood(control_port(dir), flood, why);
  ASSERT_EQ(idle.size(), flood) << why;
  auto pid = qemu_pid();
  ASSERT_NE(pid, 0);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  // The operator is answered at once while the VM is recovered.
  auto asked = std::chrono::steady_clock::now();
  auto r = sh({"deployable_list"});
  auto answered = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_LT(answered, 1s) << "pcloudsh waited for the flood";
  ASSERT_TRUE(status_matches("dep1/assy1 +ACTIVE +1"))
    << status() << slurp(dir + "/pcloudd.log");
  auto reboot = serving(port);
  EXPECT_NE(reboot.find("pcloud-tiny: "), std::string::npos) << reboot;
  EXPECT_NE(reboot, boot) << "a new boot";
  EXPECT_EQ(::waitpid(daemon_pid, nullptr, WNOHANG), 0) << "pcloudd died";
  EXPECT_LT(rss_kb(daemon_pid), before + 20 * 1024);
  EXPECT_NE(slurp(dir + "/pcloudd.log").find("refused a connection"),
            std::string::npos)
    << "the log says who was turned away";
}

} // namespace
