#include "runtime/agent_secret.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace pcloud::runtime {

std::string to_hex(const unsigned char* bytes, size_t n) {
  const char* digits = "0123456789abcdef";
  std::string result;
  for (size_t i = 0; i < n; ++i) {
    result += digits[bytes[i] >> 4];
    result += digits[bytes[i] & 0xf];
  }
  return result;
}

std::string random_secret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    std::abort(); // no entropy, no secret worth the name
  }
  return to_hex(bytes, sizeof(bytes));
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty()
         && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace pcloud::runtime
