#include "runtime/domain_plan.hpp"

#include "guest/link/wire.hpp"

namespace pcloud::runtime {

std::string network_of(const hypervisor_options& opts,
                       const msg::assembly_spec& spec) {
  if (!spec.network.empty()) {
    return spec.network;
  }
  if (!opts.default_network.empty()) {
    return opts.default_network;
  }
  auto daemonless
    = !embed_root_of(opts.uri).empty() || opts.uri.rfind("test:", 0) == 0;
  return daemonless ? msg::user_network : "default";
}

virt::nic_config nic_of(const hypervisor_options& opts,
                        const msg::assembly_spec& spec) {
  virt::nic_config nic;
  auto network = network_of(opts, spec);
  if (network == msg::no_network) {
    return nic;
  }
  nic.network = network;
  nic.mac = virt::mac_for(spec.uuid);
  if (network == msg::user_network) {
    for (auto& r : spec.resources) {
      for (auto& p : r.ports) {
        if (p.host_port != 0) {
          nic.forwards.push_back(
            {p.protocol, opts.forward_address, p.host_port, p.guest_port});
        }
      }
    }
  }
  return nic;
}

std::string boot_settings_path(const hypervisor_options& opts,
                               const std::string& assembly) {
  return opts.state_dir + "/run/" + assembly + ".boot";
}

std::string console_log_path(const hypervisor_options& opts,
                             const std::string& assembly) {
  return opts.state_dir + "/log/" + assembly + ".console.log";
}

std::string channel_path(const hypervisor_options& opts,
                         const msg::assembly_spec& spec) {
  if (spec.agent_transport == msg::tcp_transport
      || spec.agent_transport == msg::no_agent) {
    return {};
  }
  return opts.state_dir + "/run/" + spec.uuid + ".agent";
}

virt::domain_config plan_domain(const hypervisor_options& opts,
                                const msg::assembly_spec& spec,
                                const boot_image& image,
                                const incarnation_id& next) {
  virt::domain_config cfg;
  cfg.name = virt::domain_name_for(spec.name);
  cfg.uuid = next.domain_uuid;
  cfg.virt_type = opts.virt_type;
  cfg.memory_mib = spec.memory_mib;
  cfg.vcpus = spec.vcpus;
  cfg.kernel = image.kernel;
  cfg.initrd = image.initrd;
  cfg.cmdline = image.cmdline;
  cfg.nic = nic_of(opts, spec);
  if (!cfg.kernel.empty()) {
    // Direct boot: the agent learns its assembly from the command line, and
    // the guest how to bring its NIC up (user-mode networking always hands
    // out the same address; a libvirt network's dnsmasq answers DHCP).
    cfg.cmdline += (cfg.cmdline.empty() ? "" : " ");
    cfg.cmdline += "pcloud.assembly=" + spec.name;
    if (!cfg.nic.network.empty()) {
      cfg.cmdline += cfg.nic.network == msg::user_network ? " pcloud.net=user"
                                                          : " pcloud.net=dhcp";
    }
  }
  cfg.disk = image.disk;
  cfg.disk_format = image.disk_format;
  cfg.console_log = console_log_path(opts, spec.name);
  cfg.channel_socket = channel_path(opts, spec);
  cfg.metadata = {spec.name, spec.uuid, "", next.number};
  if (spec.agent_transport == msg::tcp_transport) {
    // Only an agent that comes over TCP needs to prove its assembly; a
    // channel is the VM's own. Nothing secret on other VMs' command lines.
    cfg.agent_secret = next.agent_secret;
    cfg.boot_settings_file = boot_settings_path(opts, spec.name);
    // The host as the guest sees it: its default gateway (10.0.2.2 is the
    // host's loopback under user-mode networking; a libvirt network's
    // bridge address otherwise).
    cfg.agent_host
      = std::string{wire::gateway_host} + ":" + std::to_string(opts.agent_port);
  }
  return cfg;
}

} // namespace pcloud::runtime
