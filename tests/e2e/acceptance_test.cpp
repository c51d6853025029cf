// The original pacemaker-cloud acceptance test, automated against real TCG
// guests, once on qemu:///embed and once on qemu:///system, driven only
// through pcloudsh with a second pcloudsh following the events:
//   the original's script (a JEOS, three assemblies with httpd, a deployable
//   of the three, started); then
//   1. `killall -9 httpd` typed inside one guest through its serial console;
//   1b. `killall -STOP httpd` in the same guest: hung, found by its probe;
//   2. one VM forced off from outside (embed: SIGTERM to its qemu, what a
//      destroy sends first; system: `virsh destroy` from another process);
//   3. httpd killed past its escalation limit (the defaults: the sixth
//      failure within 60 s) -> the assembly's VM restarted;
//   4. pcloudd killed with SIGKILL and started again -> no VM restarted (the
//      events say "adopted"), and
//      a failure afterwards still recovered;
//   5. deployable_stop -> every VM gone, nothing restarted.
// "Serving again" is HTTP 200 where deployable_status says the httpd
// answers, asked from a network namespace of the test's own (never the
// host's namespace or its `default` network): on embed its port forward,
// which listens only on the host end of that namespace's veth pair; on
// system the guest's DHCP address on a libvirt network of the test's own.
// ACTIVE means a client gets an answer: the moment status reads ACTIVE (the
// deployable after its start, a resource after its VM was forced off), one
// GET with a 1 s timeout must get 200. On system each guest must have its
// address within a few seconds of its agent's hello.
// The times from each failure to ACTIVE and to the first 200 are printed.
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/client_namespace.hpp"
#include "tests/support/http.hpp"
#include "tests/support/private_network.hpp"
#include "tests/support/terminal.hpp"

namespace {

using namespace pcloud::test;
using steady = std::chrono::steady_clock;

/// Three TCG guests boot at once on two cores; CI machines are shared.
constexpr auto vm_timeout = 300s;

struct flavour {
  const char* name;
  bool system;
};

void PrintTo(const flavour& x, std::ostream* os) {
  *os << x.name;
}

class acceptance : public daemon_fixture,
                   public ::testing::WithParamInterface<flavour> {
protected:
  // The root lies where tests/runtime/sweep_vms.sh finds leftover guests.
  acceptance()
      : daemon_fixture("/tmp/pcloud-vm-test-" + std::to_string(::getpid())
                         + "-e2e-XXXXXX",
                       "") {
    system = GetParam().system;
    uri = system ? "qemu:///system" : "qemu:///embed?root=" + dir + "/root";
    // On a shared libvirtd the names must not meet anybody else's domains;
    // and there, as on the original's first test page, every resource is
    // called httpd.
    auto prefix = system ? "e2e" + std::to_string(::getpid()) + "-" : "";
    for (auto n : {"1", "2", "3"}) {
      assemblies.push_back(prefix + "assy" + n);
    }
    resources
      = system ? std::vector<std::string>{"httpd", "httpd", "httpd"}
               : std::vector<std::string>{"httpdone", "httpdtwo", "httpdthree"};
    fs::create_directories(dir + "/images");
    fs::copy(PCLOUD_TINY_JEOS_DIR, dir + "/images/tiny");
    // A port range of its own: tests on one host never race for a port.
    // Below the kernel's ephemeral ports (32768 and up), which any outgoing
    // connection may take between allocation and the VM's start.
    auto first = 21000 + (::getpid() % 50) * 100;
    daemon_args = {"--forward-ports",
                   std::to_string(first) + "-" + std::to_string(first + 99)};
    // On qemu:///system the guests join a libvirt network of this test's
    // own: DHCP from its dnsmasq, httpd reached at the guest's own address
    // from the test's own namespace. On embed: user-mode networking and a
    // port forward each.
    // On embed the forwards listen only on the host end of a veth pair
    // whose other end is the client's namespace.
    if (system) {
      network = std::make_unique<private_network>("e2e");
      daemon_args.push_back("--network");
      daemon_args.push_back(network->name());
    } else {
      client = std::make_unique<client_namespace>("e2e");
      daemon_args.push_back("--forward-address");
      daemon_args.push_back(client->host_address());
    }
    ::setenv("PCLOUD_JEOS_DOWNLOADS", PCLOUD_JEOS_DOWNLOADS_DIR, 1);
  }

  ~acceptance() override {
    follower.reset();
    if (daemon_pid > 0) {
      sh({"deployable_stop", "dep1"});
    }
    for (auto& a : assemblies) {
      if (auto pid = qemu_pid(a)) {
        ::kill(pid, SIGKILL);
      }
      if (system) {
        std::system(("virsh -q -c qemu:///system destroy pcloud-" + a
                     + " >/dev/null 2>&1")
                      .c_str());
      }
    }
  }

  std::string path(int i) const {
    return "dep1/" + assemblies[i] + "/" + resources[i];
  }

  pid_t qemu_pid(const std::string& assembly) const {
    auto file
      = (system ? std::string{"/run/libvirt/qemu"} : dir + "/root/run/qemu")
        + "/pcloud-" + assembly + ".pid";
    std::ifstream in{file};
    pid_t pid = 0;
    in >> pid;
    return pid > 0 && ::kill(pid, 0) == 0 ? pid : 0;
  }

  std::string status() { return sh({"deployable_status", "dep1"}).out; }

  bool status_matches(const std::string& pattern,
                      std::chrono::seconds timeout = vm_timeout) {
    return !status_when(pattern, timeout).empty();
  }

  /// The first deployable_status that matches `pattern`; empty if none did
  /// within `timeout`.
  std::string status_when(const std::string& pattern,
                          std::chrono::seconds timeout = vm_timeout) {
    std::regex re{pattern};
    std::string s;
    if (!wait_until(
          [&] {
            s = status();
            return std::regex_search(s, re);
          },
          timeout)) {
      return {};
    }
    return s;
  }

  /// What one GET with a 1 s timeout gets from assembly i's endpoint as
  /// `s` (a deployable_status just read) gives it.
  int status_code_within_1s(int i, const std::string& s) {
    auto [address, port] = endpoint(i, s);
    if (port == 0) {
      return -1;
    }
    return get(address, port, 1s).status;
  }

  /// Seconds from the hello of assembly i's first boot to its ACTIVE with
  /// an address, from pcloudd's log; 0 when the hello had it. -1 when the
  /// log says neither (yet).
  double address_delay(int i) {
    std::istringstream log{slurp(dir + "/pcloudd.log")};
    auto who = "dep1/" + assemblies[i] + ": ";
    std::optional<double> hello;
    std::string line;
    auto seconds = [](const std::string& l) {
      // "2026-12-07T14:40:10.973 info ...": the time of day.
      return std::stod(l.substr(11, 2)) * 3600 + std::stod(l.substr(14, 2)) * 60
             + std::stod(l.substr(17, 6));
    };
    while (std::getline(log, line)) {
      if (line.find(who + "agent") != std::string::npos
          && line.find("waiting for an address") != std::string::npos) {
        hello = seconds(line);
      } else if (line.find("dep1/" + assemblies[i] + " ACTIVE: agent")
                 != std::string::npos) {
        if (!hello) {
          return 0;
        }
        auto delay = seconds(line) - *hello;
        return delay < 0 ? delay + 24 * 3600 : delay; // past midnight
      }
    }
    return -1;
  }

  /// A row of deployable_status matching `pattern` whose restart count is
  /// at least `restarts`.
  bool restarted(const std::string& row, unsigned restarts) {
    std::regex re{"(^|\n)" + row + " +ACTIVE +([0-9]+)"};
    return wait_until(
      [&] {
        std::smatch m;
        auto s = status();
        return std::regex_search(s, m, re)
               && std::stoul(m[2].str()) >= restarts;
      },
      vm_timeout);
  }

  /// Where deployable_status says assembly i's httpd answers: its forward
  /// on embed ("http 10.214.5.1:21080 -> 80"), the guest's own address on a
  /// libvirt network ("http 10.213.5.101:80", from its agent). Port 0
  /// while it says neither.
  std::pair<std::string, uint16_t> endpoint(int i) {
    return endpoint(i, status());
  }

  std::pair<std::string, uint16_t> endpoint(int i, const std::string& s) {
    std::smatch m;
    std::regex re{"(^|\n)" + path(i)
                  + " +[A-Z]+ +[0-9]+ +http ([0-9.]+):([0-9]+)"};
    if (!std::regex_search(s, m, re)) {
      return {"", 0};
    }
    return {m[2].str(), static_cast<uint16_t>(std::stoi(m[3].str()))};
  }

  /// Waits for HTTP 200 from the host at assembly i's endpoint.
  bool serving(int i) {
    return wait_until(
      [&] {
        auto [address, port] = endpoint(i);
        return port != 0 && get(address, port).status == 200;
      },
      vm_timeout);
  }

  /// GET / as a client sees it, from the test's own namespace: through
  /// the forward's veth on embed, on its libvirt network on system.
  http_answer get(const std::string& address, uint16_t port,
                  std::chrono::milliseconds timeout = 2s) const {
    return network ? network->http_get(address, port, timeout)
                   : client->http_get(address, port, timeout);
  }

  /// Types `line` into the guest's shell and waits until it has run there,
  /// or, when `ends_vm` (pcloud restarts the VM at once), until the guest
  /// has echoed it.
  void type_in_guest(int i, const std::string& line, bool ends_vm = false) {
    terminal console{dir, {"assembly_console", assemblies[i]}};
    ASSERT_TRUE(console.expect("Ctrl-] detaches")) << console.screen();
    console.type(line + "; echo ran-$((6*7))\r");
    if (ends_vm) {
      // Stay attached until the VM goes: detaching at once could drop the
      // line before the guest has run it.
      ASSERT_TRUE(console.expect("console went away", 60s)) << console.screen();
      return;
    }
    ASSERT_TRUE(console.expect("ran-42")) << console.screen();
    console.type("\x1d");
    EXPECT_EQ(console.wait_exit(), 0) << console.screen();
  }

  /// A pcloudsh following the events, as the operator watches them.
  void follow_events() {
    follower
      = std::make_unique<terminal>(dir, std::vector<std::string>{"events"});
  }

  bool saw_event(const std::string& text) {
    return follower->expect(text, 60s);
  }

  double ms_since(steady::time_point t) {
    return std::chrono::duration<double, std::milli>(steady::now() - t).count();
  }

  bool system = false;
  /// system only: the guests' network and the client's namespace.
  std::unique_ptr<private_network> network;
  /// embed only: the client's namespace, joined to the host by a veth.
  std::unique_ptr<client_namespace> client;
  std::vector<std::string> assemblies;
  std::vector<std::string> resources;
  std::unique_ptr<terminal> follower;
};

TEST_P(acceptance, the_original_walk_through_with_its_failures) {
  const auto& a = assemblies;
  const auto& r = resources;
  if (client) {
    ASSERT_TRUE(client->ok()) << "could not make the client's namespace";
  }
  if (network) {
    ASSERT_TRUE(network->ok()) << "could not make the test's libvirt network "
                                  "and client namespace";
  }
  start_daemon();
  follow_events();
  auto script = "jeos_create tiny x86_64\n"
                "assembly_create "
                + a[0]
                + " tiny x86_64\n"
                  "assembly_clone "
                + a[0] + " " + a[1]
                + "\n"
                  "assembly_clone "
                + a[0] + " " + a[2]
                + "\n"
                  "assembly_resource_add "
                + r[0] + " httpd " + a[0]
                + "\n"
                  "assembly_resource_add "
                + r[1] + " httpd " + a[1]
                + "\n"
                  "assembly_resource_add "
                + r[2] + " httpd " + a[2]
                + "\n"
                  "deployable_create dep1\n"
                  "deployable_assembly_add dep1 "
                + a[0]
                + "\n"
                  "deployable_assembly_add dep1 "
                + a[1]
                + "\n"
                  "deployable_assembly_add dep1 "
                + a[2]
                + "\n"
                  "deployable_start dep1\n";
  auto res = sh({}, script);
  ASSERT_EQ(res.rc, 0) << res.out << res.err;
  auto s = status_when("(^|\n)dep1 +ACTIVE");
  ASSERT_FALSE(s.empty()) << status() << slurp(dir + "/pcloudd.log");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(status_code_within_1s(i, s), 200)
      << a[i] << ": ACTIVE, so a client gets an answer\n"
      << s;
  }
  ASSERT_TRUE(saw_event("dep1 ACTIVE: all 3 assemblies active"))
    << follower->screen();
  if (system) {
    for (int i = 0; i < 3; ++i) {
      // pcloudd flushes its log every second.
      double delay = -1;
      wait_until([&] { return (delay = address_delay(i)) >= 0; }, 5s);
      std::printf("[e2e system] %s: its address %.3f s after its hello\n",
                  a[i].c_str(), delay);
      EXPECT_GE(delay, 0) << slurp(dir + "/pcloudd.log");
      EXPECT_LT(delay, 10) << "DHCP retries without a 20 s gap";
    }
    // The address used is the one libvirt's DHCP leased, not the guest's
    // word (security.md, "Addresses guests name").
    EXPECT_EQ(slurp(dir + "/pcloudd.log").find("taken on its word"),
              std::string::npos)
      << slurp(dir + "/pcloudd.log");
    std::fflush(stdout);
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(serving(i)) << a[i] << "\n" << status();
  }
  // Three resources of one name stay apart: each row is its own, with its
  // own endpoint (a forward of its own, or its guest's DHCP address).
  s = status();
  std::set<std::string> endpoints;
  for (int i = 0; i < 3; ++i) {
    auto [address, port] = endpoint(i);
    auto where = system ? "http 10\\.213\\.[0-9]+\\.[0-9]+:80\\b"
                        : "http "
                            + std::regex_replace(client->host_address(),
                                                 std::regex{"\\."}, "\\.")
                            + ":" + std::to_string(port) + " -> 80";
    EXPECT_TRUE(
      std::regex_search(s, std::regex{path(i) + " +ACTIVE +0 +" + where}))
      << s;
    endpoints.insert(address + ":" + std::to_string(port));
  }
  EXPECT_EQ(endpoints.size(), 3u) << s;
  std::map<std::string, pid_t> qemus;
  for (auto& x : a) {
    qemus[x] = qemu_pid(x);
    ASSERT_NE(qemus[x], 0) << x;
  }

  // 1. httpd killed inside a guest, as the original's users did.
  auto t = steady::now();
  type_in_guest(1, "killall -9 httpd");
  ASSERT_TRUE(restarted(path(1), 1)) << status();
  auto to_active = ms_since(t);
  ASSERT_TRUE(serving(1));
  auto to_http = ms_since(t);
  EXPECT_TRUE(saw_event(path(1)
                        + " RECOVERING: killed by signal 9 (SIGKILL) "
                          "-> restarting (1 of 5 in 60s)"))
    << follower->screen();
  EXPECT_TRUE(saw_event(path(1) + " ACTIVE: restarted in"))
    << follower->screen();
  EXPECT_EQ(qemu_pid(a[1]), qemus[a[1]]) << "a resource failure restarts no VM";
  std::printf("[e2e %s] 1. httpd killed in a guest: ACTIVE after %.0f ms, "
              "HTTP 200 after %.0f ms (including the console session)\n",
              GetParam().name, to_active, to_http);
  std::fflush(stdout); // before pcloudsh's next fork copies the buffer

  // 1b. The same httpd hung: alive, holding its port, answering no one.
  // Only its probe (the template's: GET / every 1 s, 3 failures) sees it.
  t = steady::now();
  type_in_guest(1, "killall -STOP httpd");
  ASSERT_TRUE(restarted(path(1), 2)) << status();
  to_active = ms_since(t);
  ASSERT_TRUE(serving(1));
  to_http = ms_since(t);
  EXPECT_TRUE(saw_event(path(1)
                        + " RECOVERING: hung: http 127.0.0.1:80/ failed 3 "
                          "times (timed out after 500ms)"))
    << follower->screen();
  EXPECT_EQ(qemu_pid(a[1]), qemus[a[1]]) << "a hung service restarts no VM";
  std::printf("[e2e %s] 1b. httpd hung (SIGSTOP) in a guest: ACTIVE after "
              "%.0f ms, HTTP 200 after %.0f ms (including the console "
              "session)\n",
              GetParam().name, to_active, to_http);
  std::fflush(stdout);

  // 2. A VM forced off from outside pcloud.
  t = steady::now();
  if (system) {
    ASSERT_EQ(std::system(("virsh -q -c qemu:///system destroy pcloud-" + a[2]
                           + " >/dev/null")
                            .c_str()),
              0);
  } else {
    ASSERT_EQ(::kill(qemus[a[2]], SIGTERM), 0);
  }
  ASSERT_TRUE(restarted("dep1/" + a[2], 1)) << status();
  s = status_when(path(2) + " +ACTIVE");
  ASSERT_FALSE(s.empty()) << status();
  to_active = ms_since(t);
  EXPECT_EQ(status_code_within_1s(2, s), 200)
    << "ACTIVE again after a force-off, so a client gets an answer\n"
    << s;
  ASSERT_TRUE(serving(2));
  to_http = ms_since(t);
  // The fastest signal names the cause: the agent's channel closing, the
  // qemu process exiting, or libvirt's event.
  EXPECT_TRUE(saw_event("dep1/" + a[2] + " RECOVERING: "))
    << follower->screen();
  EXPECT_TRUE(saw_event("-> restarting VM (1 of 3 in 300s)"))
    << follower->screen();
  EXPECT_TRUE(saw_event("dep1/" + a[2] + " ACTIVE: VM restarted in"))
    << follower->screen();
  std::printf("[e2e %s] 2. VM forced off (%s): ACTIVE after %.0f ms, HTTP "
              "200 after %.0f ms\n",
              GetParam().name, system ? "virsh destroy" : "SIGTERM to qemu",
              to_active, to_http);
  std::fflush(stdout);
  qemus[a[2]] = qemu_pid(a[2]);

  // 3. Past the escalation limit (5 in 60 s): the sixth failure restarts
  // the VM. Each kill waits for the restart before it (at once, then
  // after the 500 ms restart delay).
  for (unsigned kill = 1; kill <= 6; ++kill) {
    type_in_guest(0, "killall -9 httpd", kill == 6);
    if (kill < 6) {
      ASSERT_TRUE(restarted(path(0), kill)) << kill << "\n" << status();
    }
  }
  ASSERT_TRUE(restarted("dep1/" + a[0], 1)) << status();
  ASSERT_TRUE(status_matches(path(0) + " +ACTIVE")) << status();
  ASSERT_TRUE(serving(0));
  EXPECT_TRUE(saw_event("dep1/" + a[0] + " RECOVERING: resource " + r[0]
                        + " failed 6 times in 60s"))
    << follower->screen();
  EXPECT_NE(qemu_pid(a[0]), qemus[a[0]]) << "escalation restarts the VM";
  qemus[a[0]] = qemu_pid(a[0]);

  // 4. pcloudd killed and started again: nothing restarted, still watching.
  follower.reset();
  stop_daemon(SIGKILL);
  start_daemon();
  follow_events();
  ASSERT_TRUE(status_matches("(^|\n)dep1 +ACTIVE"))
    << status() << slurp(dir + "/pcloudd.log");
  for (auto& x : a) {
    EXPECT_EQ(qemu_pid(x), qemus[x]) << x << " was restarted, not adopted";
  }
  // And the events say so: nothing reads as started.
  EXPECT_TRUE(saw_event("dep1/" + a[0] + " ACTIVE: VM adopted, agent"))
    << follower->screen();
  EXPECT_TRUE(saw_event(path(0) + " ACTIVE: adopted (agent: "))
    << follower->screen();
  type_in_guest(1, "killall -9 httpd");
  ASSERT_TRUE(saw_event(path(1) + " ACTIVE: restarted in"))
    << follower->screen();
  ASSERT_TRUE(serving(1));

  // 5. Stopped: every VM gone, nothing restarted.
  std::vector<std::pair<std::string, uint16_t>> served;
  for (int i = 0; i < 3; ++i) {
    served.push_back(endpoint(i));
    ASSERT_NE(served.back().second, 0) << status();
  }
  res = sh({"deployable_stop", "dep1"});
  ASSERT_EQ(res.rc, 0) << res.err;
  EXPECT_TRUE(saw_event("dep1 STOPPED")) << follower->screen();
  for (auto& x : a) {
    EXPECT_TRUE(wait_until([&] { return qemu_pid(x) == 0; }, vm_timeout))
      << x << " still runs";
  }
  EXPECT_TRUE(status_matches("(^|\n)dep1 +STOPPED", 10s)) << status();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(get(served[i].first, served[i].second).status, 0)
      << "no VM, no answer";
  }
}

INSTANTIATE_TEST_SUITE_P(libvirt, acceptance,
                         ::testing::Values(flavour{"embed", false},
                                           flavour{"system", true}),
                         [](const auto& info) {
                           return std::string{info.param.name};
                         });

} // namespace
