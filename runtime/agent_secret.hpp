// Secrets of agents that reach pcloudd over TCP, where the connection
// alone does not say which guest speaks: a random one per VM incarnation,
// made by the hypervisor at each start and handed to the guest through
// fw_cfg (runtime/virt/domain_xml.hpp), never on a command line. Agent and
// gateway prove to each other that they hold it (guest/link/proof.hpp); it
// never crosses the wire.
#pragma once

#include <cstddef>
#include <string>

namespace pcloud::runtime {

/// 64 random hex digits.
std::string random_secret();

} // namespace pcloud::runtime
