#include "runtime/agent_secret.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

std::string agent_secret(const std::string& key, const std::string& assembly) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const std::string message = "pcloud-agent:" + assembly;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       digest, &size);
  return to_hex(digest, size);
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty()
         && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace pcloud::runtime
