// Secrets of agents that reach pcloudd over TCP, where the connection
// alone does not say which guest speaks: a random one per VM incarnation,
// made by the hypervisor at each start and handed to the guest through
// fw_cfg (runtime/virt/domain_xml.hpp), never on a command line. The
// gateway compares a hello's secret with the incarnation's.
#pragma once

#include <cstddef>
#include <string>

namespace pcloud::runtime {

/// Lower-case hex of `n` bytes.
std::string to_hex(const unsigned char* bytes, size_t n);

/// 64 random hex digits.
std::string random_secret();

/// Compares in constant time (no early exit on the first difference).
bool same_secret(const std::string& a, const std::string& b);

} // namespace pcloud::runtime
