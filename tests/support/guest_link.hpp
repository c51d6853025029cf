// The guest link without a VM: pcloud-agent on a thread of the test process,
// connected to the real guest gateway through socketpairs. `fake_channel`
// stands in for QEMU's virtio-serial chardev (the outside world): every host
// connect makes a fresh pair, and while no host is connected the agent's open
// fails, as the port's EOF makes it do in a guest.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "guest/agent/agent.hpp"
#include "guest/agent/host_transport.hpp"
#include "messages/interfaces.hpp"
#include "runtime/guest_gateway.hpp"
#include "runtime/result.hpp"
#include "tests/support/live.hpp"

namespace pcloud::test {

class fake_channel {
public:
  ~fake_channel() {
    if (agent_end_ >= 0) {
      ::close(agent_end_);
    }
  }

  /// The gateway's connector.
  runtime::result<int> host_connect() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return runtime::fail(std::string{"socketpair: "} + strerror(errno));
    }
    std::lock_guard<std::mutex> guard{mtx_};
    if (agent_end_ >= 0) {
      ::close(agent_end_); // a new host connection replaces the old one
    }
    agent_end_ = fds[1];
    ++connects_;
    return fds[0];
  }

  /// The agent's transport.
  int agent_open(std::string& error) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (agent_end_ < 0) {
      error = "no host connected";
      return -1;
    }
    int fd = agent_end_;
    agent_end_ = -1;
    return fd;
  }

  int connects() {
    std::lock_guard<std::mutex> guard{mtx_};
    return connects_;
  }

private:
  std::mutex mtx_;
  int agent_end_ = -1;
  int connects_ = 0;
};

/// A channel served on a unix socket, as QEMU serves a virtio-serial
/// chardev: the host (pcloudd's gateway, maybe in another process) connects
/// to `path`; the agent's open takes a pending connection or fails at once,
/// as the port reads EOF in a guest while no host is connected.
class socket_channel {
public:
  explicit socket_channel(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ::unlink(path.c_str());
    if (fd_ < 0
        || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
        || ::listen(fd_, 4) != 0) {
      error_ = path + ": " + std::strerror(errno);
    }
  }

  ~socket_channel() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    ::unlink(path_.c_str());
  }

  /// Empty when listening.
  const std::string& error() const { return error_; }

  int agent_open(std::string& error) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      error = "no host connected";
    }
    return fd;
  }

private:
  std::string path_;
  std::string error_;
  int fd_ = -1;
};

/// Live children of this process (the in-process agent's) named `comm`, or
/// all of them when `comm` is empty.
inline std::vector<pid_t> child_pids(const std::string& comm) {
  std::vector<pid_t> result;
  for (auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in{entry.path() / "stat"};
    std::string line;
    std::getline(in, line);
    // pid (comm) state ppid ...
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) {
      continue;
    }
    std::istringstream rest{line.substr(close + 2)};
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == getpid() && state != 'Z'
        && (comm.empty() || line.substr(open + 1, close - open - 1) == comm)) {
      result.push_back(std::stoi(name));
    }
  }
  return result;
}

/// An agent running its event loop on a thread of its own.
class agent_thread {
public:
  template <class Channel>
  agent_thread(Channel& channel, std::string assembly,
               std::string boot_id = "boot-1", std::string secret = {}) {
    guest::agent_options opts;
    opts.assembly = std::move(assembly);
    opts.agent_version = "test";
    opts.boot_id = std::move(boot_id);
    opts.secret = std::move(secret);
    opts.open
      = [&channel](std::string& error) { return channel.agent_open(error); };
    agent_ = std::make_unique<guest::agent>(loop_, opts);
    thread_ = std::thread{[this] {
      agent_->start();
      loop_.run();
      agent_.reset(); // its resources end with it, on its thread
    }};
  }

  ~agent_thread() {
    loop_.stop();
    thread_.join();
  }

private:
  guest::event_loop loop_;
  std::unique_ptr<guest::agent> agent_;
  std::thread thread_;
};

/// The agent's end of the TCP transport: a connect to the gateway's
/// listener on loopback, as a guest without a channel would make.
struct tcp_channel {
  uint16_t port = 0;
  int agent_open(std::string& error) const {
    return guest::connect_tcp("127.0.0.1", port, std::chrono::seconds(1),
                              error);
  }
};

/// Gateway options with a TCP listener on a free loopback port; `channel`
/// is then how agents reach it. No listener (and
/// `error` says why) when none could be opened.
inline runtime::guest_gateway_options tcp_gateway_options(tcp_channel& channel,
                                                          std::string& error) {
  runtime::guest_gateway_options opts;
  auto fd = runtime::listen_tcp("127.0.0.1", 0);
  if (!fd) {
    error = fd.error();
    return opts;
  }
  channel.port = runtime::bound_port(*fd);
  opts.tcp_listener = *fd;
  return opts;
}

/// What the gateway relayed to one assembly's listener, to wait on.
struct relayed {
  /// A listener actor that records into this.
  msg::guest_listener_actor spawn_listener(caf::actor_system& sys) const {
    auto r = *this;
    return sys.spawn([r](msg::guest_listener_actor::pointer)
                       -> msg::guest_listener_actor::behavior_type {
      return {
        [r](const msg::agent_hello& x) { r.hellos->push(x); },
        [r](const msg::agent_gone& x) { r.gone->push(x); },
        [r](const msg::agent_addresses& x) { r.addresses->push(x); },
        [r](const msg::resource_report& x) { r.reports->push(x); },
        [r](const msg::probe_report& x) { r.probes->push(x); },
      };
    });
  }

  std::shared_ptr<test::sink<msg::agent_hello>> hellos
    = std::make_shared<test::sink<msg::agent_hello>>();
  std::shared_ptr<test::sink<msg::agent_gone>> gone
    = std::make_shared<test::sink<msg::agent_gone>>();
  std::shared_ptr<test::sink<msg::resource_report>> reports
    = std::make_shared<test::sink<msg::resource_report>>();
  std::shared_ptr<test::sink<msg::agent_addresses>> addresses
    = std::make_shared<test::sink<msg::agent_addresses>>();
  std::shared_ptr<test::sink<msg::probe_report>> probes
    = std::make_shared<test::sink<msg::probe_report>>();

  bool wait_hellos(size_t n, std::chrono::milliseconds within
                             = std::chrono::seconds(20)) {
    return hellos->wait_for([n](auto& xs) { return xs.size() >= n; }, within);
  }

  /// Waits for the link's end; its reason.
  std::string wait_gone(std::chrono::milliseconds within
                        = std::chrono::seconds(20)) {
    if (!gone->wait_for([](auto& xs) { return !xs.empty(); }, within)) {
      return "(not gone)";
    }
    return gone->items().front().reason;
  }

  bool wait_report(const std::string& resource, msg::resource_condition c,
                   size_t from = 0,
                   std::chrono::milliseconds within
                   = std::chrono::seconds(20)) {
    return reports->wait_for(
      [&](auto& xs) {
        for (size_t i = from; i < xs.size(); ++i) {
          if (xs[i].resource == resource && xs[i].condition == c) {
            return true;
          }
        }
        return false;
      },
      within);
  }
};

} // namespace pcloud::test
