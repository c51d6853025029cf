// Whether a client can reach a guest's service, checked from the host: the
// route the assembly knows and the checks the resources ask of the service
// prober (runtime/service_prober.cpp). A resource with a port is ACTIVE only
// once its service answers where clients reach it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/definitions.hpp"

namespace pcloud::msg {

/// Where the host reaches an assembly's services now. The assembly sends it
/// to its resources at every hello and whenever its address changes.
struct service_route {
  /// False for an assembly without a network: nothing to check.
  bool network = true;
  /// Forwarded: QEMU user-mode networking, the services are at this
  /// address on their host ports. Otherwise the guest's own address on a
  /// libvirt network, at the guest ports; empty while the guest has none.
  bool forwarded = false;
  std::string address;
};

inline bool operator==(const service_route& x, const service_route& y) {
  return x.network == y.network && x.forwarded == y.forwarded
         && x.address == y.address;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_route& x) {
  return f(caf::meta::type_name("service_route"), x.network, x.forwarded,
           x.address);
}

/// The address a guest's services are reached at on a libvirt network: its
/// first unicast address (not loopback, link-local or multicast) that, when
/// `subnets` ("10.213.5.0/24", "fd00:5::/64") are known, lies in one of
/// them (a guest names its own addresses: one outside its network is not
/// taken). IPv4 unless every subnet is IPv6 (an IPv6-only network). Empty
/// when it has none yet (an IPv6 link-local address comes before the
/// lease).
std::string service_address(const std::vector<std::string>& addresses,
                            const std::vector<std::string>& subnets = {});

/// Whether `address` lies in `subnet` ("10.0.0.0/8", "fd00::/64"); never
/// across families.
bool in_subnet(const std::string& address, const std::string& subnet);

/// Where a client connects to reach a forward's listen address (IPv4, as
/// pcloudd's --forward-address takes it): 0.0.0.0 is reached on the
/// loopback.
std::string client_address(const std::string& listen_address);

/// One check from the host that a service answers at `address`:`port`: a
/// GET when `probe.kind` is http (its path, status range and body), else a
/// TCP connect, held open a moment when `forwarded` (through a user-mode
/// forward a connect always succeeds). Bounded by `probe.timeout`.
struct reach_check {
  /// The asker's, echoed in the result.
  uint64_t id = 0;
  std::string address;
  uint16_t port = 0;
  bool forwarded = false;
  probe_spec probe;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reach_check& x) {
  return f(caf::meta::type_name("reach_check"), x.id, x.address, x.port,
           x.forwarded, x.probe);
}

struct reach_result {
  uint64_t id = 0;
  bool ok = false;
  /// "status 200", "connection refused", "timed out after 500ms".
  std::string detail;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reach_result& x) {
  return f(caf::meta::type_name("reach_result"), x.id, x.ok, x.detail);
}

} // namespace pcloud::msg
