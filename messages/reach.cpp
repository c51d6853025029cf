#include "messages/reach.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>

namespace pcloud::msg {

namespace {

/// An address of either family, as bytes in network order.
struct ip_bytes {
  int family = 0;
  std::array<uint8_t, 16> b{};
  size_t size() const { return family == AF_INET ? 4 : 16; }
};

bool parse(const std::string& text, ip_bytes& x) {
  if (inet_pton(AF_INET, text.c_str(), x.b.data()) == 1) {
    x.family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), x.b.data()) == 1) {
    x.family = AF_INET6;
    return true;
  }
  return false;
}

bool is_ipv6(const std::string& subnet) {
  return subnet.find(':') != std::string::npos;
}

/// A unicast address a host on the network can reach: not "this network",
/// loopback, link-local, multicast, reserved or broadcast (IPv4); not
/// unspecified, loopback, link-local, multicast or IPv4-mapped (IPv6).
bool is_reachable_unicast(const ip_bytes& x) {
  auto& b = x.b;
  if (x.family == AF_INET) {
    return b[0] != 0 && b[0] != 127 && !(b[0] == 169 && b[1] == 254)
           && b[0] < 224;
  }
  static const std::array<uint8_t, 16> unspecified{};
  auto loopback = unspecified;
  loopback[15] = 1;
  bool mapped
    = std::all_of(b.begin(), b.begin() + 10, [](uint8_t v) { return v == 0; })
      && b[10] == 0xff && b[11] == 0xff;
  return b != unspecified && b != loopback && b[0] != 0xff
         && !(b[0] == 0xfe && (b[1] & 0xc0) == 0x80) && !mapped;
}

} // namespace

bool in_subnet(const std::string& address, const std::string& subnet) {
  auto slash = subnet.find('/');
  ip_bytes a;
  ip_bytes net;
  if (slash == std::string::npos || !parse(address, a)
      || !parse(subnet.substr(0, slash), net) || a.family != net.family) {
    return false;
  }
  auto prefix = subnet.substr(slash + 1);
  if (prefix.empty() || prefix.size() > 3
      || !std::all_of(prefix.begin(), prefix.end(),
                      [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  auto bits = static_cast<size_t>(std::atoi(prefix.c_str()));
  if (bits > a.size() * 8) {
    return false;
  }
  for (size_t i = 0; i < a.size() && bits > 0; ++i) {
    auto n = std::min<size_t>(bits, 8);
    auto mask = static_cast<uint8_t>(0xff << (8 - n));
    if ((a.b[i] & mask) != (net.b[i] & mask)) {
      return false;
    }
    bits -= n;
  }
  return true;
}

std::string service_address(const std::vector<std::string>& addresses,
                            const std::vector<std::string>& subnets) {
  // IPv4 unless every subnet of the network is IPv6.
  bool ipv6_only
    = !subnets.empty() && std::all_of(subnets.begin(), subnets.end(), is_ipv6);
  for (auto& a : addresses) {
    ip_bytes x;
    if (!parse(a, x) || x.family != (ipv6_only ? AF_INET6 : AF_INET)
        || !is_reachable_unicast(x)) {
      continue;
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
