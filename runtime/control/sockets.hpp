// Listening and connecting stream sockets, TCP (IPv4) and unix, each as a
// unique_fd: what pcloudd's listeners and pcloudsh's connection share.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/posix/unique_fd.hpp"
#include "runtime/result.hpp"

namespace pcloud::runtime {

/// A listening TCP socket on ADDRESS:PORT (IPv4; port 0 picks a free one),
/// non-blocking.
result<int> listen_tcp(const std::string& address, uint16_t port);

/// The port a listening socket is bound to.
uint16_t bound_port(int fd);

/// A listening unix stream socket at `path`, non-blocking, with mode 0600:
/// only its owner (root for pcloudd) can connect. A stale socket left by a
/// process that died is replaced; a path that is something else is not.
result<posix::unique_fd> listen_unix(const std::string& path);

/// A connected socket to HOST:PORT (IPv4 or a name) or to the unix socket
/// `path`, within `timeout`. Blocking afterwards.
result<posix::unique_fd> connect_tcp(const std::string& host, uint16_t port,
                                     std::chrono::milliseconds timeout);
result<posix::unique_fd> connect_unix(const std::string& path);

} // namespace pcloud::runtime
