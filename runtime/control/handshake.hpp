// The control handshake: how pcloudd and pcloudsh prove to each other that
// both hold the shell token before a single byte of CAF's protocol (BASP)
// is exchanged. Nothing an unauthenticated peer sends reaches an actor:
// the door (control_door.hpp) reads exactly these fixed-size frames, and
// only a connection that passed them is handed to CAF.
//
//   client -> server  hello    magic(8) | client nonce(32)               40
//   server -> client  welcome  magic(8) | server nonce(32) | proof(32)   72
//   client -> server  proof    proof(32)                                 32
//   server -> client  verdict  'Y' (then BASP) or 'N' (then closed)      1
//
// Proofs are HMAC-SHA256 keyed with the token over a label and both nonces;
// the labels differ per side, so one side's proof is never the other's and
// the token itself never travels. The server proves first: pcloudsh learns
// that it talks to pcloudd before it proves anything, and an impostor on
// the port learns nothing it could reuse. No encryption: on loopback and
// the unix socket nobody else can read or inject; across hosts use TLS.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/posix/unique_fd.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime::control {

constexpr size_t nonce_size = 32;
constexpr size_t proof_size = 32;
constexpr std::array<char, 8> magic{'P', 'C', 'L', 'D', 'C', 'T', 'L', '1'};
constexpr size_t hello_size = magic.size() + nonce_size;
constexpr size_t welcome_size = magic.size() + nonce_size + proof_size;
constexpr char accepted = 'Y';
constexpr char refused = 'N';

using nonce = std::array<uint8_t, nonce_size>;
using proof = std::array<uint8_t, proof_size>;

enum class side { client, server };

/// A fresh random nonce (the kernel's CSPRNG through OpenSSL).
nonce make_nonce();

/// HMAC-SHA256(token, label of `who` | client nonce | server nonce).
proof prove(side who, const std::string& token, const nonce& client,
            const nonce& server);

/// Constant time.
bool proofs_equal(const proof& a, const proof& b);

/// The server's half, fed whatever bytes arrive: no allocation, no read
/// beyond the frame it waits for, so a peer can make it hold at most
/// hello_size + proof_size bytes.
class server_handshake {
public:
  enum class state { awaiting_hello, awaiting_proof, accepted, refused };

  explicit server_handshake(std::string token);

  /// How many bytes the current frame still needs (0 once decided).
  size_t wanted() const noexcept;

  /// Takes up to wanted() bytes; returns how many it took.
  size_t consume(const uint8_t* bytes, size_t size);

  /// What to send now (the welcome after the hello, the verdict after the
  /// proof); the caller sends it and calls sent().
  const std::string& output() const noexcept { return output_; }
  void sent(size_t n) { output_.erase(0, n); }

  state current() const noexcept { return state_; }

  /// Why the peer was refused, for the log.
  const std::string& reason() const noexcept { return reason_; }

private:
  void on_frame();

  std::string token_;
  state state_ = state::awaiting_hello;
  std::array<uint8_t, hello_size> frame_{};
  size_t have_ = 0;
  nonce client_{};
  nonce server_{};
  std::string output_;
  std::string reason_;
};

/// The client's half on a connected blocking or non-blocking socket, all of
/// it within `timeout`. Fails without proving anything when the server
/// cannot prove that it knows the token.
result<bool> client_handshake(int fd, const std::string& token,
                              std::chrono::milliseconds timeout);

} // namespace pcloud::runtime::control
