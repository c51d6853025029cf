// Golden files for the pure translations from an assembly's definition:
// to the libvirt domain XML (through plan_domain and domain_xml) and to the
// configuration its agent is sent, for every assembly shape pcloud supports.
// After an intended change, regenerate with PCLOUD_REGENERATE=1 and review
// the diff line by line.
#include "runtime/domain_plan.hpp"

#include <proton/message.hpp>

#include <gtest/gtest.h>

#include "runtime/agent_configuration.hpp"
#include "tests/support/golden.hpp"

using namespace pcloud;
using namespace pcloud::runtime;

namespace {

std::string golden(const std::string& name) {
  return std::string{PCLOUD_TEST_DATA_DIR} + "/plan/" + name;
}

const std::string state = "/var/lib/pcloud";

hypervisor_options embed() {
  hypervisor_options opts;
  opts.uri = "qemu:///embed?root=" + state + "/embed";
  opts.state_dir = state;
  return opts;
}

hypervisor_options system() {
  auto opts = embed();
  opts.uri = "qemu:///system";
  return opts;
}

boot_image tiny_image() {
  boot_image image;
  image.kernel = state + "/images/tiny/vmlinuz";
  image.initrd = state + "/images/tiny/initrd.img";
  image.cmdline = "console=ttyS0 quiet";
  return image;
}

boot_image debian12_image() {
  boot_image image;
  image.kernel = state + "/images/debian12/vmlinuz";
  image.initrd = state + "/images/debian12/initrd.img";
  image.cmdline = "console=ttyS0 root=/dev/vda net.ifnames=0";
  image.disk = state + "/disks/web1.qcow2";
  return image;
}

msg::resource_spec httpd_tiny(std::string name, uint16_t host_port) {
  msg::resource_spec r;
  r.name = std::move(name);
  r.resource_class = "exec";
  r.type = "httpd -f -p 80 -h /www";
  r.monitor_timeout = std::chrono::seconds(5);
  r.ports.push_back({"http", "tcp", 80, host_port});
  return r;
}

msg::resource_spec unit(std::string name, std::string type, uint16_t port) {
  msg::resource_spec r;
  r.name = std::move(name);
  r.resource_class = "systemd";
  r.type = std::move(type);
  r.parameters["start_timeout_ms"] = "120000";
  r.ports.push_back({r.name, "tcp", port, 0});
  return r;
}

msg::assembly_spec tiny_assembly() {
  msg::assembly_spec x;
  x.name = "assy1";
  x.uuid = "0e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e";
  x.jeos = "tiny";
  x.resources = {httpd_tiny("web", 20080)};
  return x;
}

msg::assembly_spec debian12_assembly() {
  msg::assembly_spec x;
  x.name = "web1";
  x.uuid = "5b0d7f52-9a3e-4c1b-8e7d-1f2a3b4c5d6e";
  x.jeos = "debian12";
  x.memory_mib = 512;
  x.vcpus = 2;
  x.resources = {unit("www", "apache2.service", 80),
                 unit("db", "postgresql@15-main.service", 5432)};
  msg::resource_spec ocf;
  ocf.name = "check";
  ocf.resource_class = "ocf";
  ocf.type = "heartbeat:Dummy";
  ocf.parameters["state"] = "/run/dummy.state";
  ocf.monitor_interval = std::chrono::milliseconds(2500);
  x.resources.push_back(ocf);
  return x;
}

const incarnation_id third{"6f1f3b4e-0c2a-4a57-9a55-3d0f5a6c1e01", 3,
                           std::string(64, 's')};

void expect_domain(const std::string& name, const hypervisor_options& opts,
                   const msg::assembly_spec& spec, const boot_image& image) {
  test::expect_golden(golden(name + ".xml"),
                      virt::domain_xml(plan_domain(opts, spec, image, third)));
}

void expect_configuration(const std::string& name,
                          const msg::assembly_spec& spec) {
  auto m = wire::encode(configuration_for(spec.name, spec.resources));
  test::expect_golden(golden(name + ".amqp"), proton::to_string(m) + "\n");
}

} // namespace

TEST(domain_plan, embed_tiny_on_the_channel_with_a_forwarded_port) {
  expect_domain("embed-tiny-channel", embed(), tiny_assembly(), tiny_image());
}

TEST(domain_plan, system_tiny_on_a_libvirt_network) {
  expect_domain("system-tiny-network", system(), tiny_assembly(), tiny_image());
}

TEST(domain_plan, tcp_transport_has_no_channel_and_names_the_host) {
  auto opts = embed();
  opts.agent_port = 49000;
  auto spec = tiny_assembly();
  spec.agent_transport = msg::tcp_transport;
  auto cfg = plan_domain(opts, spec, tiny_image(), third);
  EXPECT_TRUE(cfg.channel_socket.empty());
  EXPECT_EQ(cfg.agent_host, "gateway:49000");
  expect_domain("embed-tiny-tcp", opts, spec, tiny_image());
}

TEST(domain_plan, systemd_guest_boots_its_overlay_with_its_resources) {
  expect_domain("system-debian12", system(), debian12_assembly(),
                debian12_image());
}

TEST(domain_plan, imported_disk_without_a_network) {
  auto spec = debian12_assembly();
  spec.network = msg::no_network;
  boot_image image;
  image.disk = state + "/disks/web1.qcow2";
  auto cfg = plan_domain(embed(), spec, image, third);
  EXPECT_TRUE(cfg.nic.network.empty());
  EXPECT_TRUE(cfg.cmdline.empty()) << "nothing to tell a disk-booted kernel";
  expect_domain("embed-imported-no-network", embed(), spec, image);
}

TEST(domain_plan, every_incarnation_keeps_the_channel_and_console) {
  auto a = plan_domain(embed(), tiny_assembly(), tiny_image(), third);
  auto b = plan_domain(embed(), tiny_assembly(), tiny_image(),
                       {"11111111-2222-4333-8444-555555555555", 4, {}});
  EXPECT_EQ(a.channel_socket, b.channel_socket);
  EXPECT_EQ(a.console_log, b.console_log);
  EXPECT_EQ(a.name, b.name);
  EXPECT_NE(a.uuid, b.uuid);
  EXPECT_EQ(b.metadata.incarnation, 4u);
}

TEST(agent_configuration, tiny_exec_resource) {
  expect_configuration("tiny-exec", tiny_assembly());
}

TEST(agent_configuration, systemd_and_ocf_resources_with_parameters) {
  expect_configuration("debian12-systemd-ocf", debian12_assembly());
}

TEST(agent_configuration, an_assembly_without_resources) {
  auto spec = tiny_assembly();
  spec.resources.clear();
  expect_configuration("no-resources", spec);
}

TEST(agent_configuration, the_most_resources_an_assembly_has_fit_one_message) {
  // assembly_resource_add refuses more than max_resources_per_assembly: a
  // configuration of that many, with names as long as names go, must
  // still be one message the agent accepts.
  auto spec = debian12_assembly();
  auto base = spec.resources;
  spec.resources.clear();
  for (size_t i = 0; i < msg::max_resources_per_assembly; ++i) {
    auto r = base[i % base.size()];
    auto n = std::to_string(i);
    r.name = std::string(63 - n.size(), 'r') + n;
    spec.resources.push_back(r);
  }
  auto m = wire::encode(configuration_for(spec.name, spec.resources));
  std::vector<char> bytes;
  m.encode(bytes);
  EXPECT_LE(bytes.size(), wire::limits::max_message_bytes);
  auto back = wire::decode_from_host(m);
  ASSERT_TRUE(back.ok()) << "the agent would refuse it: " << back.error;
  ASSERT_TRUE(std::holds_alternative<wire::configure>(back.value));
  EXPECT_EQ(std::get<wire::configure>(back.value).resources.size(),
            msg::max_resources_per_assembly);
}
