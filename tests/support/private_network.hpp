// A libvirt network of a test's own on qemu:///system, and a network
// namespace for its client, joined to that network by a veth pair: a test
// that sends traffic to guests never uses the host's `default` network or
// the host's own namespace. Both go away with the object, on failure too.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/support/client_namespace.hpp"

namespace pcloud::test {

class private_network {
public:
  /// `tag` (a few letters) and the pid name the network, its bridge and the
  /// namespace; the subnet is 10.213.N.0/24 with N from the pid.
  explicit private_network(const std::string& tag) {
    auto id = std::to_string(::getpid());
    name_ = "pcloud-" + tag + "-" + id;
    bridge_ = "pcb" + id;
    netns_ = "pcloud-" + tag + "-" + id;
    veth_ = "pcv" + id;
    auto net = "10.213." + std::to_string(::getpid() % 250) + ".";
    auto xml = "/tmp/" + name_ + ".xml";
    std::ofstream{xml} << "<network><name>" << name_
                       << "</name><forward mode='nat'/><bridge name='"
                       << bridge_ << "' stp='off'/><ip address='" << net
                       << "1' netmask='255.255.255.0'><dhcp><range start='"
                       << net << "100' end='" << net
                       << "199'/></dhcp></ip></network>\n";
    created_ = run_quietly("virsh -q -c qemu:///system net-create " + xml);
    std::remove(xml.c_str());
    // The client's namespace, on the network at .250.
    ns_made_
      = created_ && run_quietly("ip netns add " + netns_)
        && run_quietly("ip link add " + veth_ + " type veth peer name " + veth_
                       + "c")
        && run_quietly("ip link set " + veth_ + " master " + bridge_ + " up")
        && run_quietly("ip link set " + veth_ + "c netns " + netns_)
        && run_quietly("ip -n " + netns_ + " addr add " + net + "250/24 dev "
                       + veth_ + "c")
        && run_quietly("ip -n " + netns_ + " link set " + veth_ + "c up")
        && run_quietly("ip -n " + netns_ + " link set lo up");
  }

  ~private_network() {
    run_quietly("ip netns del " + netns_);
    run_quietly("ip link del " + veth_);
    run_quietly("virsh -q -c qemu:///system net-destroy " + name_);
  }

  private_network(const private_network&) = delete;
  private_network& operator=(const private_network&) = delete;

  /// Whether the network and the client's namespace are up.
  bool ok() const { return created_ && ns_made_; }

  /// The libvirt network's name (for pcloudd --network).
  const std::string& name() const { return name_; }

  /// The client's network namespace (under /run/netns).
  const std::string& netns() const { return netns_; }

  /// GET / on `address`:`port` from inside the client's namespace.
  http_answer http_get(const std::string& address, uint16_t port,
                       std::chrono::milliseconds timeout
                       = std::chrono::milliseconds{2000}) const {
    return http_get_in(netns_, address, port, timeout);
  }

private:
  std::string name_, bridge_, netns_, veth_;
  bool created_ = false;
  bool ns_made_ = false;
};

} // namespace pcloud::test
