// Per-assembly secrets for agents that reach pcloudd over TCP, where the
// connection alone does not say which guest speaks. pcloudd keeps one random
// key (STATE/agent.key, 0600); an assembly's secret is HMAC-SHA256 of its
// name under that key, so nothing per assembly is stored, the hypervisor
// hands it to the guest at every start (SMBIOS OEM string, kernel command
// line) and the gateway recomputes it to check a hello.
#pragma once

#include <cstddef>
#include <string>

namespace pcloud::runtime {

/// Lower-case hex of `n` bytes.
std::string to_hex(const unsigned char* bytes, size_t n);

/// 64 hex digits.
std::string agent_secret(const std::string& key, const std::string& assembly);

/// Compares in constant time (no early exit on the first difference).
bool same_secret(const std::string& a, const std::string& b);

} // namespace pcloud::runtime
