#include "messages/reach.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>

namespace pcloud::msg {

namespace {

bool ipv4_of(const std::string& text, uint32_t& x) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
    return false;
  }
  x = ntohl(a.s_addr);
  return true;
}

} // namespace

bool in_subnet(const std::string& address, const std::string& subnet) {
  auto slash = subnet.find('/');
  uint32_t a = 0;
  uint32_t net = 0;
  if (slash == std::string::npos || !ipv4_of(address, a)
      || !ipv4_of(subnet.substr(0, slash), net)) {
    return false;
  }
  auto bits = std::atoi(subnet.c_str() + slash + 1);
  if (bits < 0 || bits > 32) {
    return false;
  }
  auto mask = bits == 0 ? 0u : ~0u << (32 - bits);
  return (a & mask) == (net & mask);
}

std::string service_address(const std::vector<std::string>& addresses,
                            const std::vector<std::string>& subnets) {
  for (auto& a : addresses) {
    uint32_t x = 0;
    if (!ipv4_of(a, x) || (x >> 24) == 0 || (x >> 24) == 127
        || (x >> 16) == 0xa9fe || (x >> 28) == 0xe || (x >> 28) == 0xf) {
      continue; // not IPv4; "this network", loopback, link-local,
                // multicast, reserved and broadcast: no unicast host
    }
    if (subnets.empty()
        || std::any_of(subnets.begin(), subnets.end(),
                       [&](auto& net) { return in_subnet(a, net); })) {
      return a;
    }
  }
  return {};
}

std::string client_address(const std::string& listen_address) {
  return listen_address == "0.0.0.0" || listen_address.empty() ? "127.0.0.1"
                                                               : listen_address;
}

} // namespace pcloud::msg
