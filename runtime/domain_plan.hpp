// What libvirt is asked to run for an assembly: its definition, its boot
// image and pcloudd's settings in, the domain's configuration out (then
// virt::domain_xml). Pure functions, golden-tested for every shape pcloud
// supports (tests/runtime/domain_plan_test.cpp, tests/data/plan/).
#pragma once

#include <cstdint>
#include <string>

#include "messages/definitions.hpp"
#include "runtime/hypervisor.hpp"
#include "runtime/virt/domain_xml.hpp"

namespace pcloud::runtime {

/// One incarnation's identity: a fresh domain UUID and its number.
struct incarnation_id {
  std::string domain_uuid;
  uint64_t number = 1;
  /// Its agent's secret, when the agent comes over TCP (random per
  /// incarnation: a secret seen once is worth nothing at the next start).
  std::string agent_secret;
};

/// The domain of `spec`'s incarnation `next` booting `image` under `opts`.
virt::domain_config plan_domain(const hypervisor_options& opts,
                                const msg::assembly_spec& spec,
                                const boot_image& image,
                                const incarnation_id& next);

/// The network an assembly's NIC joins under `opts`: "user", "none" or a
/// libvirt network.
std::string network_of(const hypervisor_options& opts,
                       const msg::assembly_spec& spec);

/// The NIC of `spec` under `opts`: none, user-mode networking with the
/// resources' host port forwards, or a libvirt network; the MAC follows the
/// assembly UUID.
virt::nic_config nic_of(const hypervisor_options& opts,
                        const msg::assembly_spec& spec);

/// The host end of an assembly's agent channel: named by the assembly's
/// UUID, which stays the same across domain incarnations. None on the TCP
/// transport.
std::string channel_path(const hypervisor_options& opts,
                         const msg::assembly_spec& spec);

/// The file QEMU gives the guest through fw_cfg (virt::boot_settings):
/// pcloud.secret and pcloud.host for an agent on the TCP transport.
std::string boot_settings_path(const hypervisor_options& opts,
                               const std::string& assembly);

/// The assembly's serial console log, kept across incarnations.
std::string console_log_path(const hypervisor_options& opts,
                             const std::string& assembly);

} // namespace pcloud::runtime
