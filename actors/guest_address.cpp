#include "actors/guest_address.hpp"

#include <algorithm>

#include "messages/reach.hpp"

namespace pcloud::actors {

std::string guest_address::service() const {
  switch (lease) {
  case lease_state::unknown:
    return {};
  case lease_state::unpinned:
    return claimed();
  case lease_state::pinned:
    break;
  }
  std::vector<std::string> leased;
  std::copy_if(
    named.begin(), named.end(), std::back_inserter(leased), [&](auto& a) {
      return std::find(leases.begin(), leases.end(), a) != leases.end();
    });
  return msg::service_address(leased, subnets);
}

std::string guest_address::claimed() const {
  return msg::service_address(named, subnets);
}

void guest_address::forget() {
  named.clear();
  leases.clear();
  lease = lease_state::unknown;
}

} // namespace pcloud::actors
