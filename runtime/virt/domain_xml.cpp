#include "runtime/virt/domain_xml.hpp"

#include <cctype>

#include "runtime/xml/document.hpp"

namespace pcloud::runtime::virt {

std::string domain_name_for(const std::string& assembly) {
  return "pcloud-" + assembly;
}

std::string mac_for(const std::string& assembly_uuid) {
  std::string hex;
  for (char c : assembly_uuid) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  hex.resize(6, '0');
  return "52:54:00:" + hex.substr(0, 2) + ":" + hex.substr(2, 2) + ":"
         + hex.substr(4, 2);
}

namespace {

/// QEMU's -netdev user with its host forwards, and the virtio-net device on
/// an explicit PCI slot: without one QEMU put it where libvirt had placed the
/// virtio-serial controller and refused to start.
void add_user_network(xml::node& dom, const nic_config& nic) {
  std::string netdev = "user,id=pcloud0";
  for (auto& f : nic.forwards) {
    netdev += ",hostfwd=" + f.protocol + ":" + f.host_address + ":"
              + std::to_string(f.host_port)
              + "-:" + std::to_string(f.guest_port);
  }
  std::string device = "virtio-net-pci,netdev=pcloud0,bus=pci.0,addr=0x10";
  if (!nic.mac.empty()) {
    device += ",mac=" + nic.mac;
  }
  auto cmd = dom.child_ns(qemu_namespace, "qemu", "commandline");
  for (auto& arg :
       {std::string{"-netdev"}, netdev, std::string{"-device"}, device}) {
    cmd.child_in_namespace("arg").attr("value", arg);
  }
}

} // namespace

std::string boot_settings(const domain_config& cfg) {
  return "pcloud.assembly=" + cfg.metadata.assembly + " pcloud.secret="
         + cfg.agent_secret + " pcloud.host=" + cfg.agent_host + "\n";
}

std::string domain_xml(const domain_config& cfg) {
  xml::document doc{"domain"};
  auto dom = doc.root();
  dom.attr("type", cfg.virt_type);
  dom.child("name", cfg.name);
  dom.child("uuid", cfg.uuid);
  auto meta
    = dom.child("metadata").child_ns(metadata_namespace, "pcloud", "assembly");
  meta.attr("name", cfg.metadata.assembly)
    .attr("uuid", cfg.metadata.assembly_uuid)
    .attr("deployable", cfg.metadata.deployable)
    .attr("incarnation", std::to_string(cfg.metadata.incarnation));
  dom.child("memory", std::to_string(cfg.memory_mib)).attr("unit", "MiB");
  dom.child("vcpu", std::to_string(cfg.vcpus));
  auto os = dom.child("os");
  os.child("type", "hvm").attr("arch", "x86_64");
  if (!cfg.kernel.empty()) {
    os.child("kernel", cfg.kernel);
    if (!cfg.initrd.empty()) {
      os.child("initrd", cfg.initrd);
    }
    if (!cfg.cmdline.empty()) {
      os.child("cmdline", cfg.cmdline);
    }
  }
  if (!cfg.boot_settings_file.empty()) {
    // QEMU reads the file itself: its path is on the command line, the
    // secret is not.
    dom.child("sysinfo")
      .attr("type", "fwcfg")
      .child("entry")
      .attr("name", boot_settings_name)
      .attr("file", cfg.boot_settings_file);
  }
  auto features = dom.child("features");
  features.child("acpi");
  features.child("apic");
  dom.child("on_poweroff", "destroy");
  dom.child("on_reboot", "restart");
  dom.child("on_crash", "destroy");
  auto devices = dom.child("devices");
  if (!cfg.disk.empty()) {
    auto disk = devices.child("disk");
    disk.attr("type", "file").attr("device", "disk");
    disk.child("driver").attr("name", "qemu").attr("type", cfg.disk_format);
    disk.child("source").attr("file", cfg.disk);
    disk.child("target").attr("dev", "vda").attr("bus", "virtio");
  }
  auto serial = devices.child("serial");
  serial.attr("type", "pty");
  if (!cfg.console_log.empty()) {
    serial.child("log").attr("file", cfg.console_log).attr("append", "on");
  }
  serial.child("target").attr("port", "0");
  auto console = devices.child("console");
  console.attr("type", "pty");
  console.child("target").attr("type", "serial").attr("port", "0");
  if (!cfg.channel_socket.empty()) {
    auto channel = devices.child("channel");
    channel.attr("type", "unix");
    channel.child("source")
      .attr("mode", "bind")
      .attr("path", cfg.channel_socket);
    channel.child("target")
      .attr("type", "virtio")
      .attr("name", agent_channel_name);
  }
  if (!cfg.nic.network.empty() && cfg.nic.network != "user") {
    auto nic = devices.child("interface");
    nic.attr("type", "network");
    if (!cfg.nic.mac.empty()) {
      nic.child("mac").attr("address", cfg.nic.mac);
    }
    nic.child("source").attr("network", cfg.nic.network);
    nic.child("model").attr("type", "virtio");
  }
  devices.child("memballoon").attr("model", "none");
  if (cfg.nic.network == "user") {
    add_user_network(dom, cfg.nic);
  }
  return doc.to_string();
}

result<domain_metadata> parse_metadata(const std::string& text) {
  auto doc = xml::document::parse(text, "domain metadata");
  if (!doc) {
    return fail(doc.error());
  }
  auto root = doc->root();
  if (root.name() != "assembly") {
    return fail("domain metadata: expected <assembly>, found <" + root.name()
                + ">");
  }
  domain_metadata result;
  result.assembly = root.attribute("name");
  result.assembly_uuid = root.attribute("uuid");
  result.deployable = root.attribute("deployable");
  try {
    result.incarnation = std::stoull(root.attribute("incarnation"));
  } catch (const std::exception&) {
    return fail("domain metadata: bad incarnation '"
                + root.attribute("incarnation") + "'");
  }
  if (result.assembly.empty() || result.assembly_uuid.empty()) {
    return fail("domain metadata: assembly name or uuid missing");
  }
  return result;
}

} // namespace pcloud::runtime::virt
