// How an agent on the TCP transport and pcloudd prove to each other that
// they hold the secret of the VM's incarnation, without it ever crossing
// the wire (doc/guest-link.md, "Proofs"):
//
//   agent -> host   hello      {..., nonce: agent nonce}
//   host  -> agent  challenge  {nonce: host nonce, proof: host proof}
//   agent -> host   proof      {proof: agent proof}
//
// A proof is HMAC-SHA256 keyed with the secret over a label naming the
// prover, the assembly and both nonces, in lower-case hex. The labels
// differ, so one side's proof is never the other's; fresh nonces on both
// sides make a proof worthless on any other connection. The host proves
// first: an impostor where the agent connects learns nothing it could use,
// and the agent runs nothing it sends. Channels need none of this: a
// virtio-serial port is the VM's own.
#pragma once

#include <cstddef>
#include <string>

namespace pcloud::wire {

/// Hex digits of a nonce and of a proof (32 bytes each).
constexpr size_t nonce_digits = 64;
constexpr size_t proof_digits = 64;

enum class prover { host, agent };

/// Lower-case hex of `n` random bytes from the kernel's CSPRNG (through
/// OpenSSL); aborts when there is no entropy rather than go on predictably.
std::string random_hex(size_t n);

/// A fresh nonce.
inline std::string make_nonce() {
  return random_hex(nonce_digits / 2);
}

/// HMAC-SHA256 over raw bytes, the primitive under every proof here and in
/// the control handshake.
std::string hmac_sha256(const std::string& key, const std::string& message);

/// `who`'s proof for one connection, in hex.
std::string prove(prover who, const std::string& secret,
                  const std::string& assembly, const std::string& agent_nonce,
                  const std::string& host_nonce);

/// Compares in constant time; false when either is empty.
bool same_proof(const std::string& a, const std::string& b);

/// Exactly `digits` lower-case hex digits.
bool is_hex(const std::string& x, size_t digits);

} // namespace pcloud::wire
