// The guest end of the agent's virtio-serial channel. Small guests have no
// udev (so no /dev/virtio-ports/NAME link): the port is found by the name in
// /sys/class/virtio-ports/vportNpM/name and opened as /dev/vportNpM.
#pragma once

#include <string>

namespace pcloud::guest {

/// Opens the port named `channel` (non-blocking); -1 with `error` if absent.
int open_virtio_port(const std::string& channel, std::string& error,
                     const std::string& sysfs = "/sys/class/virtio-ports",
                     const std::string& dev = "/dev");

} // namespace pcloud::guest
