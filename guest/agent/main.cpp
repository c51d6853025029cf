// pcloud-agent: runs inside every guest, starts and watches its resources and
// reports to pcloudd over AMQP 1.0 on the virtio-serial channel.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "guest/agent/agent.hpp"
#include "guest/agent/host_transport.hpp"
#include "guest/agent/virtio_port.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace {

constexpr const char* version = "0.1.0";

void usage(FILE* out) {
  std::fprintf(
    out, "usage: pcloud-agent [options]\n"
         "  --channel NAME   virtio-serial channel to the host "
         "(default org.pcloud.agent.0)\n"
         "  --device PATH    use this character device instead\n"
         "  --assembly NAME  this guest's assembly (default: "
         "pcloud.assembly= on the\n"
         "                   kernel command line, else what the host "
         "says)\n"
         "  --tcp [HOST[:PORT]]  reach the host over TCP instead (default\n"
         "                   pcloud.host= from the boot, else the default\n"
         "                   gateway, port 49000; HOST `gateway` is that\n"
         "                   too); also chosen when the boot names\n"
         "                   pcloud.host= and no channel exists\n"
         "  --secret TEXT    the assembly's agent secret for TCP (default:\n"
         "                   pcloud.secret= from the boot)\n"
         "  --ocf-root DIR   OCF resource agents (default /usr/lib/ocf)\n"
         "  --daemon         detach and run in the background\n"
         "  --version, --help\n");
}

} // namespace

int main(int argc, char** argv) {
  using namespace pcloud::guest;
  std::string channel = "org.pcloud.agent.0";
  std::string device;
  agent_options opts;
  opts.agent_version = version;
  bool daemon = false;
  bool tcp = false;
  std::string tcp_target;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "pcloud-agent: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--channel") {
      channel = value();
    } else if (arg == "--device") {
      device = value();
    } else if (arg == "--assembly") {
      opts.assembly = value();
    } else if (arg == "--tcp") {
      tcp = true;
      if (i + 1 < argc && argv[i + 1][0] != '-') {
        tcp_target = argv[++i];
      }
    } else if (arg == "--secret") {
      opts.secret = value();
    } else if (arg == "--ocf-root") {
      opts.ocf_root = value();
    } else if (arg == "--daemon") {
      daemon = true;
    } else if (arg == "--version") {
      std::printf("pcloud-agent %s (protocol %u)\n", version,
                  pcloud::wire::protocol_version);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "pcloud-agent: unknown option '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (opts.assembly.empty()) {
    opts.assembly = boot_setting("pcloud.assembly");
  }
  if (opts.secret.empty()) {
    opts.secret = boot_setting("pcloud.secret");
  }
  if (tcp_target.empty()) {
    tcp_target = boot_setting("pcloud.host");
  }
  if (!tcp && device.empty() && !tcp_target.empty()) {
    // No channel in this guest (an imported image, another hypervisor):
    // the boot named a host to reach instead.
    std::string ignored;
    pcloud::posix::unique_fd port{open_virtio_port(channel, ignored)};
    tcp = !port;
  }
  opts.boot_id = read_boot_id();
  if (!tcp) {
    opts.secret.clear(); // a channel is the VM's own: nothing to prove
  }
  if (tcp) {
    std::string host;
    uint16_t port = default_agent_port;
    if (!tcp_target.empty() && !parse_host_port(tcp_target, host, port)) {
      std::fprintf(stderr, "pcloud-agent: --tcp: '%s' is not HOST[:PORT]\n",
                   tcp_target.c_str());
      return 2;
    }
    if (opts.secret.empty()) {
      std::fprintf(stderr, "pcloud-agent: TCP needs the assembly's secret "
                           "(--secret, or pcloud.secret= from the boot)\n");
      return 2;
    }
    if (opts.assembly.empty()) {
      // Both proofs name it (guest/link/proof.hpp).
      std::fprintf(stderr, "pcloud-agent: TCP needs the assembly's name "
                           "(--assembly, or pcloud.assembly= from the boot)\n");
      return 2;
    }
    opts.open = [host, port](std::string& error) {
      // The default gateway is looked up at each connect: DHCP may come late.
      auto target = host.empty() ? default_gateway() : host;
      if (target.empty()) {
        error = "no default route to find the host on";
        return -1;
      }
      return connect_tcp(target, port, std::chrono::milliseconds{1000}, error);
    };
  } else {
    opts.open = [channel, device](std::string& error) {
      if (!device.empty()) {
        int fd = open(device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
          error = device + ": " + strerror(errno);
        }
        return fd;
      }
      return open_virtio_port(channel, error);
    };
  }
  if (daemon && ::daemon(0, 1) != 0) {
    std::fprintf(stderr, "pcloud-agent: daemon: %s\n", strerror(errno));
    return 1;
  }
  // A host that goes away must not kill the agent mid-write.
  signal(SIGPIPE, SIG_IGN);
  event_loop loop;
  agent a{loop, opts};
  agent_log(std::string{"version "} + version + " starting"
            + (opts.assembly.empty() ? "" : ", assembly " + opts.assembly));
  a.start();
  loop.run();
  return 0;
}
