#include "guest/link/proof.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace pcloud::wire {

namespace {

constexpr char host_label[] = "pcloud guest link host v3";
constexpr char agent_label[] = "pcloud guest link agent v3";

std::string to_hex(const unsigned char* bytes, size_t n) {
  const char* digits = "0123456789abcdef";
  std::string result;
  result.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    result += digits[bytes[i] >> 4];
    result += digits[bytes[i] & 0xf];
  }
  return result;
}

} // namespace

std::string random_hex(size_t n) {
  std::vector<unsigned char> bytes(n);
  if (RAND_bytes(bytes.data(), static_cast<int>(n)) != 1) {
    std::abort(); // no entropy, no nonce or secret worth the name
  }
  return to_hex(bytes.data(), n);
}

std::string hmac_sha256(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string prove(prover who, const std::string& secret,
                  const std::string& assembly, const std::string& agent_nonce,
                  const std::string& host_nonce) {
  // Each part is followed by a zero byte, so no two different inputs make
  // the same message (names and nonces have no zero bytes).
  std::string message = who == prover::host ? host_label : agent_label;
  for (auto* part : {&assembly, &agent_nonce, &host_nonce}) {
    message += '\0';
    message += *part;
  }
  auto mac = hmac_sha256(secret, message);
  return to_hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

bool same_proof(const std::string& a, const std::string& b) {
  return !a.empty() && a.size() == b.size()
         && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_hex(const std::string& x, size_t digits) {
  return x.size() == digits && std::all_of(x.begin(), x.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

} // namespace pcloud::wire
