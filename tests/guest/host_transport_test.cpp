// How the agent learns its host from the boot: the kernel command line,
// SMBIOS OEM strings as the guest kernel shows them, the default route.
#include "guest/agent/host_transport.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace pcloud::guest {
namespace {

namespace fs = std::filesystem;

class host_transport : public ::testing::Test {
protected:
  host_transport() {
    char tmpl[] = "/tmp/pcloud-boot-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~host_transport() override { fs::remove_all(dir); }

  /// A type 11 structure as /sys/firmware/dmi/entries/11-N/raw has it:
  /// type, length (of the formatted part), handle, count, then the strings.
  void oem_strings(int n, std::vector<std::string> strings) {
    std::string raw{"\x0b\x05\x00\x01", 4};
    raw += static_cast<char>(strings.size());
    for (auto& s : strings) {
      raw += s;
      raw += '\0';
    }
    raw += '\0';
    auto entry = dir + "/dmi/11-" + std::to_string(n);
    fs::create_directories(entry);
    std::ofstream{entry + "/raw", std::ios::binary} << raw;
  }

  std::string dir;
};

TEST_F(host_transport, settings_come_from_the_command_line_then_smbios) {
  std::ofstream{dir + "/cmdline"} << "console=ttyS0 pcloud.assembly=web1 "
                                     "quiet\n";
  oem_strings(
    0, {"vendor thing", "pcloud.assembly=other", "pcloud.secret=abc123"});
  EXPECT_EQ(boot_setting("pcloud.assembly", dir + "/cmdline", dir + "/dmi"),
            "web1")
    << "the command line wins";
  EXPECT_EQ(boot_setting("pcloud.secret", dir + "/cmdline", dir + "/dmi"),
            "abc123");
  EXPECT_EQ(boot_setting("pcloud.host", dir + "/cmdline", dir + "/dmi"), "");
  EXPECT_EQ(boot_setting("pcloud.secret", dir + "/none", dir + "/none"), "");
}

TEST_F(host_transport, fw_cfg_holds_the_settings_of_an_agent_on_tcp) {
  // What pcloudd writes (virt::boot_settings), as the guest reads it.
  std::ofstream{dir + "/fw_cfg"} << "pcloud.assembly=web1 pcloud.secret=s3 "
                                    "pcloud.host=gateway:49000\n";
  oem_strings(0, {"pcloud.secret=older"});
  EXPECT_EQ(
    boot_setting("pcloud.secret", dir + "/none", dir + "/dmi", dir + "/fw_cfg"),
    "s3")
    << "fw_cfg before SMBIOS";
  EXPECT_EQ(
    boot_setting("pcloud.host", dir + "/none", dir + "/dmi", dir + "/fw_cfg"),
    "gateway:49000");
}

TEST_F(host_transport, a_truncated_smbios_entry_is_read_safely) {
  auto entry = dir + "/dmi/11-0";
  fs::create_directories(entry);
  std::ofstream{entry + "/raw", std::ios::binary}
    << std::string{"\x0b\x05\x00\x01\x01pcloud.secret=abc", 20};
  EXPECT_EQ(boot_setting("pcloud.secret", dir + "/none", dir + "/dmi"), "")
    << "a string without its NUL is not taken";
  std::ofstream{entry + "/raw", std::ios::binary}
    << std::string{"\x0b\xff\x00", 3};
  EXPECT_EQ(boot_setting("pcloud.secret", dir + "/none", dir + "/dmi"), "");
}

TEST_F(host_transport, host_and_port_are_checked) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(parse_host_port("10.0.2.2", host, port));
  EXPECT_EQ(host, "10.0.2.2");
  EXPECT_EQ(port, default_agent_port);
  ASSERT_TRUE(parse_host_port("192.168.122.1:4900", host, port));
  EXPECT_EQ(port, 4900);
  // What pcloudd's domains on the TCP transport say.
  ASSERT_TRUE(parse_host_port("gateway:49123", host, port));
  EXPECT_EQ(host, "");
  EXPECT_EQ(port, 49123);
  for (auto bad : {"", "host", "10.0.2.2:", "10.0.2.2:0", "10.0.2.2:65536",
                   "10.0.2.2:x", ":49000"}) {
    EXPECT_FALSE(parse_host_port(bad, host, port)) << bad;
  }
}

TEST_F(host_transport, the_host_is_the_default_gateway) {
  std::ofstream{dir + "/route"}
    << "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
       "eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
       "eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\n";
  EXPECT_EQ(default_gateway(dir + "/route"), "10.0.2.2");
  std::ofstream{dir + "/empty"} << "Iface\tDestination\tGateway\n";
  EXPECT_EQ(default_gateway(dir + "/empty"), "");
}

} // namespace
} // namespace pcloud::guest
