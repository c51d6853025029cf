// When a process exec'd, in the kernel's own words: the proc connector's
// PROC_EVENT_EXEC (netlink, root only), stamped with CLOCK_MONOTONIC, the
// clock of std::chrono::steady_clock. One observer for every supervisor a
// benchmark compares, and no polling: "running again" means the same thing
// for each of them.
#pragma once

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

namespace pcloud::bench {

class exec_watch {
public:
  using clock = std::chrono::steady_clock;

  struct exec {
    clock::time_point at;
    pid_t pid;
  };

  exec_watch() {
    fd_ = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = CN_IDX_PROC;
    if (fd_ < 0
        || ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      error_ = std::strerror(errno);
      return;
    }
    // nlmsghdr, cn_msg, then the operation (cn_msg ends in its payload).
    alignas(nlmsghdr) char
      request[NLMSG_SPACE(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))]
      = {};
    auto* header = reinterpret_cast<nlmsghdr*>(request);
    header->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_cn_mcast_op));
    header->nlmsg_type = NLMSG_DONE;
    auto* message = static_cast<cn_msg*>(NLMSG_DATA(header));
    message->id = {CN_IDX_PROC, CN_VAL_PROC};
    message->len = sizeof(proc_cn_mcast_op);
    proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
    std::memcpy(message->data, &op, sizeof(op));
    if (::send(fd_, request, header->nlmsg_len, 0) < 0) {
      error_ = std::strerror(errno);
    }
  }

  ~exec_watch() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  exec_watch(const exec_watch&) = delete;
  exec_watch& operator=(const exec_watch&) = delete;

  /// Empty when it works; else why not (not root, an old kernel).
  const std::string& error() const { return error_; }

  /// The first exec after `after` of a child of `parent` named `comm`,
  /// within `timeout`.
  std::optional<exec> next(clock::time_point after, pid_t parent,
                           const std::string& comm,
                           std::chrono::milliseconds timeout) {
    auto deadline = clock::now() + timeout;
    alignas(nlmsghdr) char buf[4096];
    while (clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock::now());
      if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) {
        continue;
      }
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf);
           n > 0 && NLMSG_OK(h, static_cast<size_t>(n)); h = NLMSG_NEXT(h, n)) {
        auto* message = static_cast<cn_msg*>(NLMSG_DATA(h));
        auto* ev = reinterpret_cast<proc_event*>(message->data);
        if (ev->what != proc_event::PROC_EVENT_EXEC) {
          continue;
        }
        auto pid = static_cast<pid_t>(ev->event_data.exec.process_pid);
        clock::time_point at{std::chrono::duration_cast<clock::duration>(
          std::chrono::nanoseconds{ev->timestamp_ns})};
        if (at >= after && parent_of(pid) == parent && comm_of(pid) == comm) {
          return exec{at, pid};
        }
      }
    }
    return std::nullopt;
  }

private:
  static pid_t parent_of(pid_t pid) {
    // pid (comm) state ppid: comm may hold spaces, so after the last ')'.
    std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    auto close = text.rfind(')');
    pid_t ppid = 0;
    if (close != std::string::npos
        && std::sscanf(text.c_str() + close + 1, " %*c %d", &ppid) == 1) {
      return ppid;
    }
    return 0;
  }

  static std::string comm_of(pid_t pid) {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/comm"};
    std::string name;
    std::getline(in, name);
    return name;
  }

  int fd_ = -1;
  std::string error_;
};

} // namespace pcloud::bench
