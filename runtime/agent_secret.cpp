#include "runtime/agent_secret.hpp"

#include "guest/link/proof.hpp"

namespace pcloud::runtime {

std::string random_secret() {
  return wire::random_hex(32);
}

} // namespace pcloud::runtime
