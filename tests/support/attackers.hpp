// What the attacks on a running pcloudd use (doc/security.md): a peer's bare
// CAF system, the idle-connection flood and the daemon's memory, shared by
// the attacks on test:///default and those under a real VM's recovery.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "runtime/control/sockets.hpp"
#include "runtime/posix/unique_fd.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/descriptors.hpp"

namespace pcloud::test {

/// A bare CAF system with the middleman, as a peer of pcloudd would run.
struct remote_client_config : caf::actor_system_config {
  remote_client_config() {
    load<caf::io::middleman>();
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// Whether CAF's own remote_actor, as the reproduced attack used, got an
/// actor from 127.0.0.1:`port` without the token.
inline bool caf_client_gets_an_actor(uint16_t port) {
  remote_client_config cfg;
  caf::actor_system sys{cfg};
  return static_cast<bool>(sys.middleman().remote_actor("127.0.0.1", port));
}

/// The TCP port pcloudd listens on, from STATE/shell.address.
inline uint16_t control_port(const std::string& state_dir) {
  auto text = slurp(state_dir + "/shell.address");
  return static_cast<uint16_t>(std::stoul(text.substr(text.rfind(':') + 1)));
}

/// The resident memory of process `pid`, in KiB (0 if it is gone).
inline size_t rss_kb(pid_t pid) {
  auto status = slurp("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find("VmRSS:");
  return at == std::string::npos ? 0 : std::stoul(status.substr(at + 6));
}

/// `n` connections to 127.0.0.1:`port` that never say hello; every tenth
/// announces a 4 GiB BASP payload. Fewer when a connect fails (`why`).
inline std::vector<posix::unique_fd> idle_flood(uint16_t port, size_t n,
                                                std::string& why) {
  std::vector<posix::unique_fd> idle;
  for (size_t i = 0; i < n; ++i) {
    auto fd = runtime::connect_tcp("127.0.0.1", port, std::chrono::seconds(2));
    if (!fd) {
      why = fd.error();
      break;
    }
    if (i % 10 == 0) {
      std::vector<uint8_t> header(32, 0);
      header[4] = header[5] = header[6] = header[7] = 0xff;
      (void)!::send(fd->get(), header.data(), header.size(), MSG_NOSIGNAL);
    }
    idle.push_back(std::move(*fd));
  }
  return idle;
}

} // namespace pcloud::test
