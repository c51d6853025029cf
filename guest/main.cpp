// pcloud-agent: runs inside every guest, starts and watches its resources and
// reports to pcloudd over AMQP 1.0 on the virtio-serial channel.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "guest/agent.hpp"
#include "guest/virtio_port.hpp"

namespace {

constexpr const char* version = "0.1.0";

void usage(FILE* out) {
  std::fprintf(out,
               "usage: pcloud-agent [options]\n"
               "  --channel NAME   virtio-serial channel to the host "
               "(default org.pcloud.agent.0)\n"
               "  --device PATH    use this character device instead\n"
               "  --assembly NAME  this guest's assembly (default: "
               "pcloud.assembly= on the\n"
               "                   kernel command line, else what the host "
               "says)\n"
               "  --ocf-root DIR   OCF resource agents (default /usr/lib/ocf)\n"
               "  --daemon         detach and run in the background\n"
               "  --version, --help\n");
}

std::string from_kernel_cmdline(const std::string& key) {
  std::ifstream in{"/proc/cmdline"};
  std::string word;
  while (in >> word) {
    if (word.rfind(key + "=", 0) == 0) {
      return word.substr(key.size() + 1);
    }
  }
  return {};
}

} // namespace

int main(int argc, char** argv) {
  using namespace pcloud::guest;
  std::string channel = "org.pcloud.agent.0";
  std::string device;
  agent_options opts;
  opts.agent_version = version;
  bool daemon = false;
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
    opts.assembly = from_kernel_cmdline("pcloud.assembly");
  }
  opts.boot_id = read_boot_id();
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
