// A guest's serial console log (STATE/log/ASSEMBLY.console.log), which QEMU
// appends to for as long as the VM runs: a guest that writes without end
// must not fill the host's disk, so the hypervisor caps it at every start
// and every 30 s.
#pragma once

#include <cstddef>
#include <string>

#include "runtime/result.hpp"

namespace pcloud::runtime {

/// Past `max` bytes, moves the log's contents to PATH.1 (replacing an
/// older one) and empties it; true when it did. QEMU writes with O_APPEND,
/// so it goes on at the new end (what it writes between the copy and the
/// truncation is lost).
result<bool> cap_console_log(const std::string& path, size_t max);

} // namespace pcloud::runtime
