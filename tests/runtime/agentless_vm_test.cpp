// An assembly whose guest has no agent (transport none), on a real tiny
// guest under TCG built without pcloud-agent (it serves HTTP from boot):
// the real hypervisor, the real service prober and the real tree. Its
// service is ACTIVE once the host sees it answer at its forward, and a VM
// killed comes back and serves again. The client asks from a network
// namespace of its own.
#include <signal.h>

#include <filesystem>

#include "runtime/service_prober.hpp"
#include "tests/support/client_namespace.hpp"
#include "tests/support/vm_tree.hpp"

using namespace pcloud;
using namespace pcloud::test;
namespace fs = std::filesystem;

namespace {

/// A port nothing listens on at `address` now (the forward's).
uint16_t free_port(const std::string& address) {
  auto fd = runtime::listen_tcp(address, 0);
  if (!fd) {
    ADD_FAILURE() << fd.error();
    return 0;
  }
  auto port = runtime::bound_port(*fd);
  ::close(*fd);
  return port;
}

class agentless_vm_test : public vm_tree_fixture {
public:
  agentless_vm_test() : vm_tree_fixture(false, "bare1") {
    // QEMU reads it as libvirt-qemu: next to the fixture's images.
    bare_initrd = env.dir + "/images/initrd-bare.img";
    fs::copy_file(std::string{PCLOUD_TINY_BARE_JEOS_DIR} + "/initrd.img",
                  bare_initrd, fs::copy_options::overwrite_existing);
  }

  ~agentless_vm_test() override {
    if (prober) {
      caf::anon_send_exit(prober, caf::exit_reason::user_shutdown);
    }
  }

  /// dep1 with bare1 (no agent), its httpd's port 80 forwarded from
  /// `host_port` at `forward_address`.
  void start(const std::string& forward_address, uint16_t host_port) {
    auto opts = env.options();
    opts.forward_address = forward_address;
    auto kernel = env.kernel;
    auto initrd = bare_initrd;
    opts.images = [kernel, initrd](const msg::assembly_spec&) {
      return runtime::result<runtime::boot_image>{runtime::boot_image{
        kernel, initrd, "console=ttyS0 quiet", "", "qcow2"}};
    };
    auto hv_res = runtime::spawn_hypervisor(sys, opts);
    ASSERT_TRUE(hv_res) << hv_res.error();
    hv = *hv_res;
    prober = runtime::spawn_service_prober(sys);
    msg::resource_spec httpd;
    httpd.name = "httpd";
    httpd.resource_class = "exec";
    httpd.type = "httpd -p 80 -h /www";
    httpd.ports.push_back({"http", "tcp", 80, host_port});
    // What the httpd template sets. Through a user-mode forward a connect
    // proves only QEMU's end: it accepts while the guest still boots.
    httpd.probe.kind = "http";
    httpd.probe.port = 80;
    httpd.probe.path = "/";
    msg::deployable_spec spec;
    spec.name = "dep1";
    spec.assemblies = {make_assembly(name, {})};
    spec.assemblies[0].agent_transport = msg::no_agent;
    spec.assemblies[0].network = msg::user_network;
    spec.assemblies[0].resources = {httpd};
    spec.resource_escalation = msg::no_escalation_policy();
    dep = sys.spawn(
      actors::deployable, spec,
      actors::tree_context{{}, bus, hv, gateway, prober, forward_address});
    caf::anon_send(dep, msg::start_atom::value);
  }

  std::string bare_initrd;
  msg::service_prober_actor prober;
};

} // namespace

TEST_F(agentless_vm_test, a_guest_without_an_agent_is_watched_by_its_port) {
  client_namespace client{"al"};
  ASSERT_TRUE(client.ok()) << "cannot make the client's namespace";
  auto port = free_port(client.host_address());
  ASSERT_NE(port, 0);
  start(client.host_address(), port);
  ASSERT_TRUE(wait_event("dep1/bare1/httpd ACTIVE: no agent; answers at "
                         + client.host_address() + ":" + std::to_string(port)))
    << lines();
  auto first = client.http_get(client.host_address(), port);
  ASSERT_EQ(first.status, 200) << "a client gets an answer once ACTIVE";
  EXPECT_NE(first.body.find("pcloud-tiny: "), std::string::npos);
  // No agent to tell: libvirt and the qemu process are how a killed VM is
  // noticed.
  auto pid = env.qemu_pid(domain());
  ASSERT_TRUE(pid);
  auto mark = events->items().size();
  ASSERT_EQ(kill(*pid, SIGKILL), 0);
  ASSERT_TRUE(wait_event("dep1/bare1 RECOVERING:", mark)) << lines();
  ASSERT_TRUE(wait_event("dep1/bare1/httpd ACTIVE: restarted in", mark))
    << lines();
  auto again = client.http_get(client.host_address(), port);
  ASSERT_EQ(again.status, 200);
  EXPECT_NE(again.body, first.body) << "a new boot serves it (boot id)";
}
