// The debian12 JEOS end to end: built by `jeos_create debian12` (the
// Debian base comes from the machine's cache after the first build), two
// systemd guests under TCG on qemu:///embed, the real agent in them, and
// every debian12 template variant running: apache2, nginx and PostgreSQL
// through systemd, the OCF Dummy agent. A unit killed with SIGKILL inside
// the guest is seen through its cgroup and restarted by pcloud, not by
// systemd.
#include <regex>

#include "tests/support/http.hpp"
#include "tests/support/private_network.hpp"
#include "tests/support/terminal.hpp"

namespace {

using namespace pcloud::test;

/// systemd under TCG: 12-28 s to multi-user for one guest, more for two on
/// two shared cores.
constexpr auto boot_timeout = 300s;

class debian12_vm : public daemon_fixture {
protected:
  // The root lies where tests/runtime/sweep_vms.sh finds leftover guests.
  debian12_vm()
      : daemon_fixture("/tmp/pcloud-vm-test-" + std::to_string(::getpid())
                         + "-debian12-XXXXXX",
                       "") {
    uri = "qemu:///embed?root=" + dir + "/root";
    // The kernel package the build downloaded for the tiny JEOS.
    ::setenv("PCLOUD_JEOS_DOWNLOADS", PCLOUD_JEOS_DOWNLOADS_DIR, 1);
  }

  ~debian12_vm() override {
    if (daemon_pid > 0) {
      sh({"deployable_stop", "dep1"});
    }
    for (auto assembly : {"web", "edge", "imp"}) {
      std::ifstream in{dir + "/root/run/qemu/pcloud-" + assembly + ".pid"};
      pid_t pid = 0;
      if (in >> pid && pid > 0) {
        ::kill(pid, SIGKILL);
      }
    }
  }

  bool status_matches(const std::string& pattern,
                      std::chrono::seconds timeout = boot_timeout) {
    std::regex re{pattern};
    return wait_until(
      [&] {
        return std::regex_search(sh({"deployable_status", "dep1"}).out, re);
      },
      timeout);
  }

  std::string status() { return sh({"deployable_status", "dep1"}).out; }

  /// The host port `assembly_list` gives RESOURCE's service NAME.
  uint16_t port_of(const std::string& resource, const std::string& name) {
    std::smatch m;
    auto list = sh({"assembly_list"}).out;
    std::regex re{resource + " " + name + " 127\\.0\\.0\\.1:([0-9]+) ->"};
    return std::regex_search(list, m, re)
             ? static_cast<uint16_t>(std::stoi(m[1].str()))
             : 0;
  }

  bool http_serves(uint16_t port, const std::string& text) {
    return wait_until(
      [&] {
        auto answer = http_get(port);
        return answer.status == 200
               && answer.body.find(text) != std::string::npos;
      },
      60s);
  }

  /// PostgreSQL answers an SSLRequest with one byte, 'S' or 'N'; QEMU's
  /// forward alone accepts and then closes without a byte.
  static bool postgres_answers(uint16_t port) {
    const std::string ssl_request{"\x00\x00\x00\x08\x04\xd2\x16\x2f", 8};
    auto reply = tcp_exchange(port, ssl_request, 2s, 1);
    return reply == "S" || reply == "N";
  }

  /// Types `command` on the assembly's serial console (root is logged in
  /// there) and waits until the shell has run it.
  void run_in_guest(const std::string& assembly, const std::string& command) {
    terminal console{dir, {"assembly_console", assembly}};
    ASSERT_TRUE(console.expect("Ctrl-] detaches")) << console.screen();
    // getty may still be starting: ask for a prompt until one comes.
    ASSERT_TRUE(wait_until(
      [&] {
        console.type("\r");
        return console.expect("root@pcloud-debian12:", 2s);
      },
      120s))
      << console.screen();
    console.type(command + "; echo ran-$((6*7))\r");
    ASSERT_TRUE(console.expect("ran-42", 60s)) << console.screen();
    console.type("\x1d");
    EXPECT_EQ(console.wait_exit(), 0) << console.screen();
  }
};

TEST_F(debian12_vm, systemd_services_run_and_recover_in_a_debian_guest) {
  // Below the kernel's ephemeral ports, a range no other VM test uses.
  auto first = 20000 + (::getpid() % 10) * 100;
  daemon_args = {"--forward-ports",
                 std::to_string(first) + "-" + std::to_string(first + 99)};
  start_daemon();
  auto built = sh({"jeos_create", "debian12", "x86_64"});
  ASSERT_EQ(built.rc, 0) << built.out << built.err
                         << slurp(dir + "/pcloudd.log");
  auto r = sh({}, R"(assembly_create web debian12 x86_64
assembly_resource_add www httpd web
assembly_resource_add db postgresql web
assembly_resource_add probe dummy web
assembly_create edge debian12 x86_64
assembly_resource_add proxy nginx edge
deployable_create dep1
deployable_assembly_add dep1 web
deployable_assembly_add dep1 edge
deployable_start dep1
)");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("assembly web created (JEOS debian12, 512 MiB"),
            std::string::npos)
    << "the recipe's defaults: " << r.out;
  ASSERT_TRUE(status_matches("dep1 +ACTIVE"))
    << status() << slurp(dir + "/pcloudd.log");
  auto status_now = status();
  for (auto resource : {"web/www", "web/db", "web/probe", "edge/proxy"}) {
    EXPECT_TRUE(std::regex_search(
      status_now, std::regex{std::string{"dep1/"} + resource + " +ACTIVE +0"}))
      << resource << "\n"
      << status_now << slurp(dir + "/pcloudd.log");
  }
  auto www = port_of("www", "http");
  auto proxy = port_of("proxy", "http");
  auto db = port_of("db", "postgresql");
  ASSERT_NE(www, 0) << sh({"assembly_list"}).out;
  ASSERT_NE(proxy, 0);
  ASSERT_NE(db, 0);
  EXPECT_TRUE(http_serves(www, "pcloud-debian12")) << "apache2";
  EXPECT_TRUE(http_serves(proxy, "pcloud-debian12")) << "nginx";
  EXPECT_TRUE(wait_until([&] { return postgres_answers(db); }, 60s));

  // apache2 killed inside the guest: its cgroup empties, the agent reports
  // at once, pcloud restarts the unit (systemd's own Restart= is off).
  run_in_guest("web", "pkill -9 -x apache2");
  ASSERT_TRUE(status_matches("dep1/web/www +ACTIVE +1", 120s))
    << status() << slurp(dir + "/pcloudd.log");
  auto log = slurp(dir + "/pcloudd.log");
  EXPECT_NE(log.find("every process of apache2.service exited"),
            std::string::npos)
    << "detected through the cgroup, not by the 10 s monitor";
  EXPECT_TRUE(http_serves(www, "pcloud-debian12"));

  // The PostgreSQL server killed: the same for the cluster's unit.
  run_in_guest("web", "pkill -9 -x postgres");
  ASSERT_TRUE(status_matches("dep1/web/db +ACTIVE +1", 120s))
    << status() << slurp(dir + "/pcloudd.log");
  EXPECT_TRUE(wait_until([&] { return postgres_answers(db); }, 60s));
  EXPECT_TRUE(
    std::regex_search(status(), std::regex{"dep1/web/www +ACTIVE +1"}))
    << "nothing else restarted";

  r = sh({"deployable_stop", "dep1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(wait_until([&] { return http_get(www).status == 0; }))
    << "no VM, no answer";
}

TEST_F(debian12_vm, an_exported_disk_imports_and_boots_by_its_own_firmware) {
  start_daemon();
  auto r = sh({"jeos_create", "debian12", "x86_64"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err << slurp(dir + "/pcloudd.log");
  // Exported as one self-contained file, as an operator would copy it.
  auto exported = dir + "/exported.qcow2";
  auto cmd = "qemu-img convert -O qcow2 " + dir + "/images/debian12/disk.qcow2 "
             + exported;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  r = sh({}, "jeos_import mine " + exported + R"(
assembly_create imp mine x86_64
assembly_set imp memory 512
assembly_set imp boot_timeout 240s
deployable_create dep1
deployable_assembly_add dep1 imp
deployable_start dep1
)");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  // No kernel from pcloud: GRUB in the disk boots it, and the agent,
  // told its assembly by the host, says hello.
  ASSERT_TRUE(status_matches("dep1/imp +ACTIVE +0 .*agent 0\\.1\\.0 connected"))
    << status() << slurp(dir + "/pcloudd.log");
  // The running domain, as libvirt keeps it in the embed root.
  auto live = slurp(dir + "/root/run/qemu/pcloud-imp.xml");
  EXPECT_NE(live.find("<source file='" + dir + "/disks/imp.qcow2'"),
            std::string::npos)
    << live;
  EXPECT_EQ(live.find("<kernel>"), std::string::npos) << live;
  r = sh({"deployable_stop", "dep1"});
  EXPECT_EQ(r.rc, 0) << r.err;
}

/// qemu:///system and a libvirt NAT network of the test's own: the guest
/// asks its dnsmasq by DHCP through systemd-networkd, its agent tells
/// pcloud the address, and apache2 answers there, no forward in between,
/// to a client in the test's own network namespace.
class debian12_system_vm : public debian12_vm {
protected:
  debian12_system_vm() {
    uri = "qemu:///system";
    daemon_args.push_back("--network");
    daemon_args.push_back(network.name());
  }

  ~debian12_system_vm() override {
    if (daemon_pid > 0) {
      sh({"deployable_stop", deployable});
    }
    std::system(("virsh -q -c qemu:///system destroy pcloud-" + assembly
                 + " >/dev/null 2>&1")
                  .c_str());
  }

  private_network network{"d12"};
  // Names of their own: libvirtd's domains are everybody's.
  std::string assembly = "d12net" + std::to_string(::getpid());
  std::string deployable = "dep" + std::to_string(::getpid());
};

TEST_F(debian12_system_vm, a_guest_on_a_libvirt_network_serves_at_its_address) {
  ASSERT_TRUE(network.ok()) << "could not make the test's libvirt network "
                               "and client namespace";
  start_daemon();
  auto r = sh({"jeos_create", "debian12", "x86_64"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err << slurp(dir + "/pcloudd.log");
  r = sh({}, "assembly_create " + assembly
               + " debian12 x86_64\n"
                 "assembly_resource_add www httpd "
               + assembly
               + "\n"
                 "deployable_create "
               + deployable
               + "\n"
                 "deployable_assembly_add "
               + deployable + " " + assembly
               + "\n"
                 "deployable_start "
               + deployable + "\n");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_TRUE(std::regex_search(
    sh({"assembly_list"}).out,
    std::regex{"\n" + assembly + " .* " + network.name() + " "}))
    << sh({"assembly_list"}).out;
  // pcloudsh shows where www answers once the guest has its lease.
  auto row = deployable + "/" + assembly
             + "/www +ACTIVE +0 +http "
               "(10\\.213\\.[0-9]+\\.[0-9]+):80\\b";
  std::smatch m;
  std::string s;
  ASSERT_TRUE(wait_until(
    [&] {
      s = sh({"deployable_status", deployable}).out;
      return std::regex_search(s, m, std::regex{row});
    },
    boot_timeout))
    << s << slurp(dir + "/pcloudd.log");
  auto address = m[1].str();
  auto json = sh({"--json", "deployable_status", deployable}).out;
  EXPECT_NE(json.find("\"service\": \"http " + address + ":80\""),
            std::string::npos)
    << json;
  std::printf("debian12 on a libvirt network: %s (%s)\n", address.c_str(),
              slurp(dir + "/pcloudd.log").find("guest addresses now")
                  != std::string::npos
                ? "told after the hello"
                : "in the hello");
  std::fflush(stdout); // before pcloudsh's next fork copies the buffer
  // ACTIVE means a client gets an answer: one GET, at once, within 1 s.
  auto answer = network.http_get(address, 80, 1s);
  EXPECT_EQ(answer.status, 200) << "apache2 at " << address;
  EXPECT_NE(answer.body.find("pcloud-debian12"), std::string::npos)
    << answer.body;
  r = sh({"deployable_stop", deployable});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(
    wait_until([&] { return network.http_get(address, 80).status == 0; }))
    << "no VM, no answer";
}

} // namespace
