// A VM killed (SIGKILL of its qemu) or forced off (`virsh destroy`), until
// its domain runs again and until a client gets HTTP 200 from the service
// in it again: pcloud beside Pacemaker's ocf:heartbeat:VirtualDomain with a
// 1 s and a 10 s monitor, on the same tiny TCG guest (the tiny JEOS built
// without the agent; busybox httpd on port 80) on qemu:///system.
//
// The guest joins a libvirt network of the benchmark's own and the client
// asks its address from a network namespace of the benchmark's own, every
// 5 ms, one request at a time, each bounded by 500 ms
// (tests/support/private_network.hpp). While the guest is gone a connect
// waits for an ARP answer that does not come, so a figure can be up to
// 500 ms late; a shorter bound cut off the slow first answers of a TCG
// guest that has just booted, which was worse (tried: 100 ms).: nothing goes
// through the host's `default` network or its own namespace, and both go away
// on exit.
//
// pcloud runs the guest as an agentless assembly (the same image for both
// peers) with its hypervisor actor and the httpd template's HTTP probe;
// backoff and escalation are off, as Pacemaker's migration-threshold is
// unlimited. "Domain running" is a new qemu process for the domain (its pid
// file, read every 2 ms), the same observer for both.
//
//   pcloud_bench_vm_kill [--quick]
// Figures go to stdout and, with PCLOUD_BENCH_RESULTS=FILE, to FILE.
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <caf/all.hpp>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/guest_gateway.hpp"
#include "runtime/hypervisor.hpp"
#include "runtime/logging.hpp"
#include "runtime/scheduler_settings.hpp"
#include "runtime/service_prober.hpp"
#include "runtime/virt/domain_xml.hpp"
#include "tests/bench/bench_stats.hpp"
#include "tests/bench/downtime_client.hpp"
#include "tests/bench/pacemaker.hpp"
#include "tests/bench/results.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/private_network.hpp"
#include "tests/support/vm.hpp"

using namespace pcloud;
using namespace std::chrono_literals;
using bench::bench_clock;
using ms = std::chrono::duration<double, std::milli>;
namespace fs = std::filesystem;

namespace {

constexpr auto recovery_limit = 120s;

/// How a trial takes the VM away.
enum class failure { kill, destroy };

const char* case_of(failure f, bool answering) {
  if (f == failure::kill) {
    return answering ? "vm-kill-answering" : "vm-kill-running";
  }
  return answering ? "vm-destroy-answering" : "vm-destroy-running";
}

std::string title_of(failure f, bool answering) {
  return std::string{f == failure::kill ? "a VM killed (SIGKILL of its qemu)"
                                        : "a VM forced off (virsh destroy)"}
         + (answering ? ": its service answering again"
                      : ": its domain running again");
}

const char* end_point_of(bool answering) {
  return answering ? "a client in the benchmark's network namespace gets "
                     "HTTP 200 from the guest again"
                   : "a new qemu runs the domain";
}

/// Runs `cmd` and returns what it printed.
std::string output_of(const std::string& cmd) {
  std::string text;
  if (FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) {
      text.append(buf, n);
    }
    ::pclose(p);
  }
  return text;
}

/// The IPv4 address libvirt's DHCP server leased to `mac` on `network`.
std::string leased_address(const std::string& network, const std::string& mac) {
  auto text = output_of("virsh -q -c qemu:///system net-dhcp-leases " + network
                        + " --mac " + mac);
  auto at = text.find("ipv4");
  if (at == std::string::npos) {
    return {};
  }
  auto start = text.find_first_not_of(' ', at + 4);
  auto slash = text.find('/', start);
  return start == std::string::npos || slash == std::string::npos
           ? std::string{}
           : text.substr(start, slash - start);
}

/// One peer's view of its VM: how to find its qemu, and where the guest
/// serves.
struct guest_under_test {
  const test::vm_environment& env;
  std::string domain;
  std::string address;
};

bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = 2ms) {
  for (auto deadline = bench_clock::now() + timeout;
       bench_clock::now() < deadline; std::this_thread::sleep_for(every)) {
    if (pred()) {
      return true;
    }
  }
  return false;
}

/// Trials of `how` against `g`; records both end points as `peer`.
void run_trials(const guest_under_test& g, bench::client& client, failure how,
                int trials, std::chrono::milliseconds spread,
                const std::string& peer, const std::string& setting,
                std::optional<double> goal_answering) {
  bench::figure running, answering;
  for (auto* f : {&running, &answering}) {
    bool a = f == &answering;
    f->case_id = case_of(how, a);
    f->case_title = title_of(how, a);
    f->end_point = end_point_of(a);
    f->peer = peer;
    f->setting = setting;
  }
  answering.goal_median = goal_answering;
  for (int i = 0; i < trials; ++i) {
    if (!client.steady(20, 240s)) {
      ++running.dropped["the service did not answer steadily before the kill"];
      ++answering.dropped["the service did not answer steadily before the "
                          "kill"];
      break;
    }
    bench::pause_up_to(spread);
    auto old = g.env.qemu_pid(g.domain);
    if (!old) {
      ++running.dropped["no qemu found for the domain"];
      ++answering.dropped["no qemu found for the domain"];
      break;
    }
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, *old, 0));
    auto t0 = bench_clock::now();
    if (how == failure::kill) {
      ::kill(*old, SIGKILL);
    } else {
      output_of("virsh -q -c qemu:///system destroy " + g.domain);
    }
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, 1, 30000);
    ::close(pidfd);
    auto gone = bench_clock::now();
    std::optional<pid_t> next;
    bool back = wait_until(
      [&] {
        next = g.env.qemu_pid(g.domain);
        return next && *next != *old;
      },
      recovery_limit);
    if (back) {
      running.samples.push_back(ms(bench_clock::now() - t0).count());
    } else {
      ++running.dropped["no new qemu within 120 s"];
    }
    if (auto t = client.answered_again(t0, gone, recovery_limit)) {
      answering.samples.push_back(*t);
    } else {
      ++answering.dropped["no answer within 120 s"];
    }
  }
  for (auto* f : {&running, &answering}) {
    auto label = std::string{f->case_id} + " " + peer;
    bench::print_stats(label.c_str(), f->samples);
    for (auto& [why, n] : f->dropped) {
      std::printf("%-26s %d trials dropped: %s\n", "", n, why.c_str());
    }
    bench::record(*f);
  }
}

void not_applicable(const std::string& peer, const std::string& why,
                    const std::vector<failure>& hows) {
  for (auto how : hows) {
    for (bool a : {false, true}) {
      bench::figure f;
      f.case_id = case_of(how, a);
      f.case_title = title_of(how, a);
      f.end_point = end_point_of(a);
      f.peer = peer;
      f.not_applicable = why;
      std::printf("%s %s n/a: %s\n", f.case_id.c_str(), peer.c_str(),
                  why.c_str());
      bench::record(f);
    }
  }
}

struct setup {
  test::private_network& net;
  test::vm_environment& env;
  std::string kernel;
  std::string initrd;
  std::vector<failure> hows;
  int trials;
};

void pcloud_peer(setup& s) {
  caf::actor_system_config cfg;
  runtime::apply_scheduler_settings(cfg); // as pcloudd runs
  msg::add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto opts = s.env.options();
  auto kernel = s.kernel;
  auto initrd = s.initrd;
  opts.images = [kernel, initrd](const msg::assembly_spec&) {
    return runtime::result<runtime::boot_image>{
      runtime::boot_image{kernel, initrd, "console=ttyS0 quiet", "", "qcow2"}};
  };
  auto hv = runtime::spawn_hypervisor(sys, opts);
  if (!hv) {
    not_applicable("pcloud", hv.error(), s.hows);
    return;
  }
  auto bus = sys.spawn(actors::event_bus, size_t{100});
  auto gateway = runtime::spawn_guest_gateway(sys);
  auto prober = runtime::spawn_service_prober(sys);
  auto name = "vmk" + std::to_string(::getpid());
  msg::resource_spec httpd;
  httpd.name = "httpd";
  httpd.resource_class = "exec";
  httpd.type = "httpd -p 80 -h /www";
  httpd.ports.push_back({"http", "tcp", 80, 0});
  httpd.probe.kind = "http";
  httpd.probe.port = 80;
  msg::deployable_spec spec;
  spec.name = "bench";
  spec.assemblies = {test::make_assembly(name, {})};
  spec.assemblies[0].agent_transport = msg::no_agent;
  spec.assemblies[0].network = s.net.name();
  spec.assemblies[0].resources = {httpd};
  spec.resource_escalation = msg::no_escalation_policy();
  spec.assembly_escalation = msg::no_escalation_policy();
  auto dep = sys.spawn(
    actors::deployable, spec,
    actors::tree_context{{}, bus, *hv, gateway, prober, "127.0.0.1"});
  caf::anon_send(dep, msg::start_atom::value);
  auto domain = runtime::virt::domain_name_for(name);
  auto mac = runtime::virt::mac_for(spec.assemblies[0].uuid);
  std::string address;
  wait_until(
    [&] {
      address = leased_address(s.net.name(), mac);
      return !address.empty();
    },
    240s, 200ms);
  if (address.empty()) {
    not_applicable("pcloud", "the guest got no address within 240 s", s.hows);
  } else {
    bench::client client{{address, 80, s.net.netns()}};
    guest_under_test g{s.env, domain, address};
    for (auto how : s.hows) {
      run_trials(g, client, how, s.trials, 1s, "pcloud",
                 "agentless assembly, libvirt events, HTTP probe every 1 s; "
                 "no backoff, no escalation",
                 how == failure::kill ? std::optional<double>{6000}
                                      : std::nullopt);
    }
  }
  caf::anon_send_exit(dep, caf::exit_reason::user_shutdown);
  caf::scoped_actor self{sys};
  self->request(*hv, 60s, msg::destroy_atom::value, name)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  for (auto h :
       {caf::actor_cast<caf::actor>(bus), caf::actor_cast<caf::actor>(gateway),
        caf::actor_cast<caf::actor>(prober),
        caf::actor_cast<caf::actor>(*hv)}) {
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }
}

std::string random_uuid() {
  std::ifstream in{"/proc/sys/kernel/random/uuid"};
  std::string id;
  std::getline(in, id);
  return id;
}

void pacemaker_peer(setup& s, const std::vector<int>& monitors) {
  auto peer = [](int m) { return "Pacemaker " + std::to_string(m) + " s"; };
  auto fail_all = [&](const std::string& why) {
    for (int m : monitors) {
      not_applicable(peer(m), why, s.hows);
    }
  };
  bench::pacemaker_cluster cluster;
  if (!cluster.error().empty()) {
    fail_all(cluster.error());
    return;
  }
  runtime::virt::domain_config dc;
  dc.name = "pcloud-bench-vd-" + std::to_string(::getpid());
  dc.uuid = random_uuid();
  dc.kernel = s.kernel;
  dc.initrd = s.initrd;
  // As pcloud's domain plan boots a guest on a libvirt network.
  dc.cmdline = "console=ttyS0 quiet pcloud.net=dhcp";
  dc.console_log = s.env.dir + "/" + dc.name + ".console.log";
  dc.nic.network = s.net.name();
  dc.nic.mac = runtime::virt::mac_for(dc.uuid);
  dc.metadata.assembly = dc.name;
  dc.metadata.deployable = "pacemaker";
  auto xml = s.env.dir + "/" + dc.name + ".xml";
  std::ofstream{xml} << runtime::virt::domain_xml(dc);
  for (int m : monitors) {
    auto id = "bench-vm-" + std::to_string(m);
    auto setting = "ocf:heartbeat:VirtualDomain, monitor every "
                   + std::to_string(m) + " s, force_stop, single-node cluster, "
                   + bench::pacemaker_cluster::version();
    bool started = cluster.add_resource(
      id,
      "<primitive id=\"" + id
        + "\" class=\"ocf\" provider=\"heartbeat\" type=\"VirtualDomain\">"
          "<instance_attributes id=\""
        + id + "-ia\"><nvpair id=\"" + id + "-config\" name=\"config\" value=\""
        + xml + "\"/><nvpair id=\"" + id
        + "-hv\" name=\"hypervisor\" value=\"qemu:///system\"/>"
          "<nvpair id=\""
        + id
        + "-force\" name=\"force_stop\" value=\"true\"/></instance_attributes>"
          "<operations><op id=\""
        + id + "-mon\" name=\"monitor\" interval=\"" + std::to_string(m)
        + "s\" timeout=\"30s\"/><op id=\"" + id
        + "-start\" name=\"start\" interval=\"0\" timeout=\"90s\"/>"
          "<op id=\""
        + id
        + "-stop\" name=\"stop\" interval=\"0\" timeout=\"90s\"/>"
          "</operations></primitive>",
      120s);
    std::string address;
    if (started) {
      wait_until(
        [&] {
          address = leased_address(s.net.name(), dc.nic.mac);
          return !address.empty();
        },
        240s, 200ms);
    }
    if (!started || address.empty()) {
      not_applicable(peer(m),
                     started ? "the guest got no address within 240 s"
                             : cluster.error(),
                     s.hows);
    } else {
      bench::client client{{address, 80, s.net.netns()}};
      guest_under_test g{s.env, dc.name, address};
      for (auto how : s.hows) {
        run_trials(g, client, how, s.trials, std::chrono::seconds{m}, peer(m),
                   setting, std::nullopt);
      }
    }
    cluster.remove_resource(id);
  }
}

} // namespace

int main(int argc, char** argv) {
  bool quick = argc == 2 && std::strcmp(argv[1], "--quick") == 0;
  if (argc > 2 || (argc == 2 && !quick)) {
    std::fprintf(stderr, "usage: pcloud_bench_vm_kill [--quick]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (auto err = runtime::configure_logging({"error", ""}); !err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  std::vector<failure> hows{failure::kill};
  if (!quick) {
    hows.push_back(failure::destroy);
  }
  test::private_network net{"vmk"};
  if (!net.ok()) {
    for (auto* peer : {"pcloud", "Pacemaker 1 s"}) {
      not_applicable(peer,
                     "no libvirt network of its own (root and libvirtd on "
                     "qemu:///system with dnsmasq are needed)",
                     hows);
    }
    return 0;
  }
  test::vm_environment env{true};
  // QEMU reads it as libvirt-qemu: next to the environment's images.
  auto initrd = env.dir + "/images/initrd-bare.img";
  fs::copy_file(std::string{PCLOUD_TINY_BARE_JEOS_DIR} + "/initrd.img", initrd,
                fs::copy_options::overwrite_existing);
  setup s{net, env, env.kernel, initrd, hows, quick ? 3 : 10};
  std::printf("VM killed and forced off: pcloud and Pacemaker VirtualDomain, "
              "tiny TCG guest on libvirt network %s, client in namespace %s "
              "(%s)\n",
              net.name().c_str(), net.netns().c_str(),
              quick ? "quick" : "full");
  pcloud_peer(s);
  pacemaker_peer(s, quick ? std::vector<int>{1} : std::vector<int>{1, 10});
  return 0;
}
