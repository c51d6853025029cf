// The hypervisor actor: one per libvirt URI. It owns the connection, starts
// and destroys the assemblies' domains, and turns libvirt's lifecycle events
// and qemu process exits into `msg::domain_event`s for the assembly actors.
#pragma once

#include <functional>
#include <string>

#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "messages/interfaces.hpp"
#include "runtime/qemu_host.hpp" // embed_root_of, prepare_embed_root
#include "runtime/result.hpp"

namespace pcloud::runtime {

/// How an assembly's VM boots: direct kernel boot and/or a disk.
struct boot_image {
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  std::string disk;
  std::string disk_format = "qcow2";
};

/// Finds the boot image of an assembly (the image store, in pcloudd).
using image_resolver
  = std::function<result<boot_image>(const msg::assembly_spec&)>;

struct hypervisor_options {
  /// qemu:///embed?root=DIR (no daemon), qemu:///system, test:///default.
  std::string uri;
  /// Agent channel sockets go to STATE/run, console logs to STATE/log.
  std::string state_dir;
  image_resolver images;
  /// "qemu" (TCG) by default; "kvm" where /dev/kvm works.
  std::string virt_type = "qemu";
  /// The network of assemblies that name none; empty: "user" (QEMU
  /// user-mode networking) on qemu:///embed and test:///default, libvirt's
  /// "default" network on other URIs.
  std::string default_network;
  /// Where user-mode networking's host port forwards listen.
  std::string forward_address = "127.0.0.1";
  /// The port of pcloudd's agent listener; 0 when there is none. Domains of
  /// assemblies on the TCP transport name it to their agent (SMBIOS).
  uint16_t agent_port = 0;
  /// How long a start retries while libvirt still cleans up the previous
  /// incarnation under the same name ("domain ... already exists").
  caf::timespan start_retry{std::chrono::seconds(10)};
  /// A console log past this many bytes moves to LOG.1 (checked at every
  /// start and every `console_check`).
  size_t console_log_max = 4 * 1024 * 1024;
  caf::timespan console_check{std::chrono::seconds(30)};
};

/// Opens the connection and spawns the hypervisor actor (on a thread of its
/// own: libvirt calls block). Fails if libvirt cannot be reached.
result<msg::hypervisor_actor> spawn_hypervisor(caf::actor_system& sys,
                                               hypervisor_options opts);

} // namespace pcloud::runtime
