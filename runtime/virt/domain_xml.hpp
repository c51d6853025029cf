// Domain XML for an assembly's VM: pure functions, golden-file tested
// (tests/runtime/domain_xml_test.cpp). Built with libxml2's tree API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/result.hpp"

namespace pcloud::runtime::virt {

/// Name of the virtio-serial port the agent looks for in the guest
/// (/sys/class/virtio-ports/*/name).
inline constexpr const char* agent_channel_name = "org.pcloud.agent.0";

/// Namespace of pcloud's element in <metadata>.
inline constexpr const char* metadata_namespace
  = "http://pcloud.org/xmlns/assembly/1";

/// libvirt domain name of an assembly: the same for every incarnation, so
/// `virsh list`, `virsh console pcloud-NAME` and virt-manager always find it.
std::string domain_name_for(const std::string& assembly);

/// What pcloud keeps in the domain's <metadata>: how it recognises its own
/// domains and re-adopts them after a restart of pcloudd.
struct domain_metadata {
  std::string assembly;
  std::string assembly_uuid;
  std::string deployable;
  uint64_t incarnation = 0;
};

/// Namespace of libvirt's QEMU pass-through elements (<qemu:commandline>).
inline constexpr const char* qemu_namespace
  = "http://libvirt.org/schemas/domain/qemu/1.0";

/// A host port forwarded to a guest port by QEMU's user-mode networking.
struct port_forward {
  std::string protocol = "tcp";
  std::string host_address = "127.0.0.1";
  uint16_t host_port = 0;
  uint16_t guest_port = 0;
};

/// The guest's one NIC, a virtio-net device.
struct nic_config {
  /// Empty: no NIC; "user": QEMU user-mode networking (no bridge, no daemon:
  /// what qemu:///embed can have); anything else names a libvirt network.
  std::string network;
  std::string mac;
  /// Only with "user": libvirt 9.0 forwards ports for the passt backend
  /// alone, which it lacks, so these go to QEMU's -netdev directly.
  std::vector<port_forward> forwards;
};

/// The MAC address of an assembly's NIC: locally administered under QEMU's
/// 52:54:00 prefix, taken from the assembly UUID, so it stays the same across
/// incarnations and a clone (a new UUID) gets its own.
std::string mac_for(const std::string& assembly_uuid);

struct domain_config {
  std::string name;
  /// A fresh UUID for every incarnation: events of the previous one, which
  /// libvirt delivers late, cannot be mistaken for the new one's.
  std::string uuid;
  /// "qemu" (TCG, the default: /dev/kvm is missing or hangs on some hosts),
  /// "kvm", or "test" for the test:///default driver.
  std::string virt_type = "qemu";
  uint32_t memory_mib = 128;
  uint32_t vcpus = 1;
  /// Direct kernel boot when set.
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  /// A disk image (the assembly's qcow2 overlay) as vda; none when empty.
  std::string disk;
  std::string disk_format = "qcow2";
  /// The serial console is an interactive pty and also logged to this file.
  std::string console_log;
  /// Host end of the agent's virtio-serial channel (a unix socket QEMU
  /// creates); no channel when empty.
  std::string channel_socket;
  nic_config nic;
  /// For an agent that reaches pcloudd over TCP: this incarnation's random
  /// secret and where to connect. They go into `boot_settings_file`
  /// (boot_settings() writes its text), which QEMU hands the guest through
  /// fw_cfg as opt/org.pcloud/boot: on no command line, and in the guest
  /// readable by root only (/sys/firmware/qemu_fw_cfg). None when empty.
  std::string agent_secret;
  std::string agent_host;
  std::string boot_settings_file;
  domain_metadata metadata;
};

/// The fw_cfg name of the boot settings.
inline constexpr const char* boot_settings_name = "opt/org.pcloud/boot";

/// What `cfg.boot_settings_file` holds: "pcloud.assembly=NAME
/// pcloud.secret=SECRET pcloud.host=HOST:PORT", as the agent reads it.
std::string boot_settings(const domain_config& cfg);

/// The domain XML for `cfg`. on_crash and on_poweroff are `destroy`: pcloud,
/// not libvirt, decides what happens to a VM that went away.
std::string domain_xml(const domain_config& cfg);

/// Parses pcloud's metadata element as virDomainGetMetadata returns it.
result<domain_metadata> parse_metadata(const std::string& xml);

} // namespace pcloud::runtime::virt
