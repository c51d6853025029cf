// Where a guest on a libvirt network serves its clients: the address its
// agent names, kept to the network's subnets and pinned to what libvirt's
// DHCP server leased to its NIC. A guest names its own addresses; only the
// lease is the host's word, so a guest cannot name another guest's.
#pragma once

#include <string>
#include <vector>

namespace pcloud::actors {

struct guest_address {
  enum class lease_state {
    /// Not asked yet for these addresses: no address is trusted.
    unknown,
    /// Only an address in `leases` is used.
    pinned,
    /// The network hands out no addresses by DHCP (static addressing): the
    /// guest's word, in the subnets, is all there is.
    unpinned,
  };

  /// The guest's addresses, from its agent's latest hello or update.
  std::vector<std::string> named;
  /// The subnets of its libvirt network, from the hypervisor at every start.
  std::vector<std::string> subnets;
  lease_state lease = lease_state::unknown;
  std::vector<std::string> leases;

  /// Where its services are reached; empty while there is no address the
  /// host can trust.
  std::string service() const;

  /// What the guest names in the network's subnets, leased or not.
  std::string claimed() const;

  /// The VM is gone: what it named and was leased is forgotten.
  void forget();
};

} // namespace pcloud::actors
