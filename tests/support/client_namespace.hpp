// A network namespace for a test's client, so that the traffic a test sends
// to guests never leaves from the host's own namespace. Joined to the host
// by a veth pair: the host end has HOST_ADDRESS (pcloudd's --forward-address
// on embed, where QEMU's user-mode forwards then listen, and nowhere else),
// the client end the next address. private_network joins one to a libvirt
// network instead. Both go away with the object, on failure too.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "runtime/posix/unique_fd.hpp"
#include "tests/support/http.hpp"

namespace pcloud::test {

/// Runs `cmd` quietly; whether it succeeded.
inline bool run_quietly(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

/// GET / on `address`:`port` from inside the namespace `netns` (under
/// /run/netns): a child process joins it, asks, and hands the answer back.
inline http_answer http_get_in(const std::string& netns,
                               const std::string& address, uint16_t port,
                               std::chrono::milliseconds timeout
                               = std::chrono::milliseconds{2000}) {
  http_answer result;
  posix::fd_pair pipe;
  if (!posix::make_pipe(pipe, O_CLOEXEC)) {
    return result;
  }
  auto pid = ::fork();
  if (pid == 0) {
    posix::unique_fd ns{
      ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC)};
    if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) {
      ::_exit(1);
    }
    auto answer = test::http_get(address, port, timeout);
    auto text = std::to_string(answer.status) + "\n" + answer.body;
    (void)!::write(pipe.write.get(), text.data(), text.size());
    ::_exit(0);
  }
  pipe.write.reset();
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipe.read.get(), buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (auto nl = text.find('\n'); nl != std::string::npos) {
    result.status = std::atoi(text.c_str());
    result.body = text.substr(nl + 1);
  }
  return result;
}

class client_namespace {
public:
  /// `tag` (a few letters) and the pid name the namespace and the veth
  /// pair; the addresses are 10.214.N.1 (host) and .2 (client), N from the
  /// pid.
  explicit client_namespace(const std::string& tag) {
    auto id = std::to_string(::getpid());
    netns_ = "pcloud-" + tag + "-" + id;
    veth_ = "pcc" + id;
    auto net = "10.214." + std::to_string(::getpid() % 250) + ".";
    host_address_ = net + "1";
    ok_ = run_quietly("ip netns add " + netns_)
          && run_quietly("ip link add " + veth_ + " type veth peer name "
                         + veth_ + "c")
          && run_quietly("ip addr add " + host_address_ + "/24 dev " + veth_)
          && run_quietly("ip link set " + veth_ + " up")
          && run_quietly("ip link set " + veth_ + "c netns " + netns_)
          && run_quietly("ip -n " + netns_ + " addr add " + net + "2/24 dev "
                         + veth_ + "c")
          && run_quietly("ip -n " + netns_ + " link set " + veth_ + "c up")
          && run_quietly("ip -n " + netns_ + " link set lo up");
  }

  ~client_namespace() {
    run_quietly("ip netns del " + netns_);
    run_quietly("ip link del " + veth_);
  }

  client_namespace(const client_namespace&) = delete;
  client_namespace& operator=(const client_namespace&) = delete;

  bool ok() const { return ok_; }

  /// The host end's address: where forwards listen for this client.
  const std::string& host_address() const { return host_address_; }

  /// GET / on `address`:`port` from inside the client's namespace.
  http_answer http_get(const std::string& address, uint16_t port,
                       std::chrono::milliseconds timeout
                       = std::chrono::milliseconds{2000}) const {
    return http_get_in(netns_, address, port, timeout);
  }

private:
  std::string netns_, veth_, host_address_;
  bool ok_ = false;
};

} // namespace pcloud::test
