#include "runtime/agent_secret.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace pcloud::runtime {

std::string agent_secret(const std::string& key, const std::string& assembly) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const std::string message = "pcloud-agent:" + assembly;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       digest, &size);
  const char* hex = "0123456789abcdef";
  std::string result;
  for (unsigned int i = 0; i < size; ++i) {
    result += hex[digest[i] >> 4];
    result += hex[digest[i] & 0xf];
  }
  return result;
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty()
         && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace pcloud::runtime
