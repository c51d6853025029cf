// The guest link without a VM: pcloud-agent on a thread of the test process,
// connected to the real guest gateway through socketpairs. `fake_channel`
// stands in for QEMU's virtio-serial chardev (the outside world): every host
// connect makes a fresh pair, and while no host is connected the agent's open
// fails, as the port's EOF makes it do in a guest.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "guest/agent.hpp"
#include "runtime/result.hpp"

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

/// An agent running its event loop on a thread of its own.
class agent_thread {
public:
  agent_thread(fake_channel& channel, std::string assembly,
               std::string boot_id = "boot-1") {
    guest::agent_options opts;
    opts.assembly = std::move(assembly);
    opts.agent_version = "test";
    opts.boot_id = std::move(boot_id);
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

} // namespace pcloud::test
