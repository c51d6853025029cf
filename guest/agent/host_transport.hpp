// How the agent finds and reaches its host: settings from the boot (the
// kernel command line of a direct-boot guest, the fw_cfg entry pcloudd gives
// a domain whose agent comes over TCP) and the TCP transport, for guests
// without the virtio-serial channel.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "guest/link/wire.hpp"

namespace pcloud::guest {

/// The port pcloudd's agent listener uses unless told otherwise.
constexpr uint16_t default_agent_port = 49000;

/// Where QEMU's fw_cfg shows pcloud's boot settings (root only).
inline constexpr const char* fw_cfg_boot_settings
  = "/sys/firmware/qemu_fw_cfg/by_name/opt/org.pcloud/boot/raw";

/// `KEY=VALUE` from the kernel command line, else from pcloud's fw_cfg
/// entry (what pcloudd gives an agent on the TCP transport: its secret and
/// where to connect), else from the SMBIOS type 11 (OEM strings) entries
/// under `dmi` (older pcloudd); empty when none has it.
std::string boot_setting(const std::string& key,
                         const std::string& cmdline = "/proc/cmdline",
                         const std::string& dmi = "/sys/firmware/dmi/entries",
                         const std::string& fw_cfg = fw_cfg_boot_settings);

/// The HOST that means the default route's gateway (wire::gateway_host).
inline constexpr const char* gateway_host = wire::gateway_host;

/// "HOST" or "HOST:PORT", HOST an IPv4 address or `gateway` (then `host` is
/// empty: look the gateway up at connect time); false if it is neither.
bool parse_host_port(const std::string& text, std::string& host,
                     uint16_t& port);

/// The IPv4 gateway of the default route (/proc/net/route): the host, for
/// QEMU's user-mode networking (10.0.2.2) and for a libvirt network's
/// bridge. Empty without a default route.
std::string default_gateway(const std::string& route = "/proc/net/route");

/// Connects to HOST:PORT within `timeout`; a non-blocking fd the caller
/// owns, or -1 with `error` set.
int connect_tcp(const std::string& host, uint16_t port,
                std::chrono::milliseconds timeout, std::string& error);

} // namespace pcloud::guest
