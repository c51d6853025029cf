// Golden files for the domain XML pcloud generates. After an intended change,
// regenerate with PCLOUD_REGENERATE=1 and review the diff line by line.
#include "runtime/virt/domain_xml.hpp"

#include <gtest/gtest.h>

#include "tests/support/golden.hpp"

using namespace pcloud::runtime::virt;

namespace {

std::string golden_path(const std::string& name) {
  return std::string{PCLOUD_TEST_DATA_DIR} + "/domain/" + name + ".xml";
}

void expect_golden(const std::string& name, const std::string& actual) {
  pcloud::test::expect_golden(golden_path(name), actual);
}

domain_config tiny() {
  domain_config cfg;
  cfg.name = domain_name_for("assy1");
  cfg.uuid = "6f1f3b4e-0c2a-4a57-9a55-3d0f5a6c1e01";
  cfg.kernel = "/var/lib/pcloud/images/tiny/vmlinuz";
  cfg.initrd = "/var/lib/pcloud/images/tiny/initrd.img";
  cfg.cmdline = "console=ttyS0 quiet";
  cfg.console_log = "/var/lib/pcloud/log/assy1.console.log";
  cfg.channel_socket
    = "/var/lib/pcloud/run/0e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e.agent";
  cfg.metadata = {"assy1", "0e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e", "dep1", 3};
  return cfg;
}

} // namespace

TEST(domain_xml, tiny_direct_kernel_boot_under_tcg) {
  expect_golden("tiny-direct-boot", domain_xml(tiny()));
}

TEST(domain_xml, disk_boot_with_kvm_and_more_resources) {
  auto cfg = tiny();
  cfg.virt_type = "kvm";
  cfg.memory_mib = 512;
  cfg.vcpus = 2;
  cfg.kernel.clear();
  cfg.initrd.clear();
  cfg.cmdline.clear();
  cfg.disk = "/var/lib/pcloud/assemblies/assy1.qcow2";
  expect_golden("disk-boot-kvm", domain_xml(cfg));
}

TEST(domain_xml, user_mode_networking_forwards_host_ports) {
  auto cfg = tiny();
  cfg.nic.network = "user";
  cfg.nic.mac = mac_for("0e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e");
  cfg.nic.forwards
    = {{"tcp", "127.0.0.1", 20080, 80}, {"udp", "127.0.0.1", 20053, 53}};
  expect_golden("tiny-user-network", domain_xml(cfg));
}

TEST(domain_xml, a_libvirt_network_is_an_interface) {
  auto cfg = tiny();
  cfg.nic.network = "default";
  cfg.nic.mac = mac_for("0e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e");
  expect_golden("tiny-libvirt-network", domain_xml(cfg));
}

TEST(domain_xml, the_mac_follows_the_assembly_uuid) {
  EXPECT_EQ(mac_for("0e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e"),
            "52:54:00:0e:8f:44");
  EXPECT_NE(mac_for("0e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e"),
            mac_for("1e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e"));
}

TEST(domain_xml, the_agent_secret_goes_to_fw_cfg_not_the_command_line) {
  auto cfg = tiny();
  EXPECT_EQ(domain_xml(cfg).find("sysinfo"), std::string::npos)
    << "no TCP agent, no boot settings";
  // The TCP transport: no channel; the agent's secret and where to go in a
  // file that QEMU reads and hands the guest through fw_cfg.
  cfg.channel_socket.clear();
  cfg.agent_secret = std::string(64, 'a');
  cfg.agent_host = "gateway:49000";
  cfg.boot_settings_file = "/var/lib/pcloud/run/assy1.boot";
  auto xml = domain_xml(cfg);
  EXPECT_NE(xml.find("<sysinfo type=\"fwcfg\">\n    <entry "
                     "name=\"opt/org.pcloud/boot\" "
                     "file=\"/var/lib/pcloud/run/assy1.boot\"/>"),
            std::string::npos)
    << xml;
  EXPECT_EQ(xml.find(cfg.agent_secret), std::string::npos)
    << "the XML (and so qemu's command line) never holds the secret";
  EXPECT_EQ(xml.find("<channel"), std::string::npos) << xml;
  EXPECT_EQ(boot_settings(cfg),
            "pcloud.assembly=assy1 pcloud.secret=" + cfg.agent_secret
              + " pcloud.host=gateway:49000\n");
}

TEST(domain_xml, text_is_escaped_not_pasted) {
  auto cfg = tiny();
  cfg.cmdline = "console=ttyS0 x=\"<&>\"";
  auto xml = domain_xml(cfg);
  EXPECT_NE(xml.find("x=\"&lt;&amp;&gt;\""), std::string::npos) << xml;
}

TEST(domain_metadata, round_trips_through_the_domain_xml) {
  auto xml = domain_xml(tiny());
  auto begin = xml.find("<pcloud:assembly");
  auto end = xml.find("/>", begin);
  ASSERT_NE(begin, std::string::npos);
  auto meta = parse_metadata(xml.substr(begin, end + 2 - begin));
  ASSERT_TRUE(meta) << meta.error();
  EXPECT_EQ(meta->assembly, "assy1");
  EXPECT_EQ(meta->assembly_uuid, "0e8f44aa-5a36-4f4b-8a0f-2d5f0c1c9b7e");
  EXPECT_EQ(meta->deployable, "dep1");
  EXPECT_EQ(meta->incarnation, 3u);
}

TEST(domain_metadata, garbage_is_an_error_naming_what_is_wrong) {
  EXPECT_NE(parse_metadata("<assembly").error().find("line 1"),
            std::string::npos);
  EXPECT_NE(parse_metadata("<other/>").error().find("expected <assembly>"),
            std::string::npos);
  EXPECT_NE(parse_metadata("<assembly name='a' uuid='u' incarnation='x'/>")
              .error()
              .find("bad incarnation"),
            std::string::npos);
  EXPECT_NE(
    parse_metadata("<assembly incarnation='1'/>").error().find("missing"),
    std::string::npos);
}
