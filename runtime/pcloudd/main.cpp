// pcloudd: the pcloud daemon. Hosts the supervision tree, talks to libvirt
// and to the guest agents, keeps the definitions, and serves pcloudsh.
//
// SIGTERM or SIGINT: a clean exit that leaves the VMs running; the next
// start adopts them (deployable_stop is how VMs are stopped).
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include "messages/type_ids.hpp"
#include "runtime/logging.hpp"
#include "runtime/pcloudd/daemon.hpp"
#include "runtime/posix/unique_fd.hpp"
#include "runtime/scheduler_settings.hpp"
#include "runtime/systemd_notify.hpp"

namespace {

using pcloud::runtime::daemon_options;

constexpr const char* default_config = "/etc/pcloud/pcloudd.conf";

void usage(FILE* out) {
  std::fprintf(
    out,
    "usage: pcloudd [options]\n"
    "  --config FILE      INI config (default %s if it exists)\n"
    "  --state-dir DIR    definitions, images, sockets, logs, token\n"
    "                     (default /var/lib/pcloud)\n"
    "  --uri URI          libvirt URI (default qemu:///embed?root=STATE/"
    "libvirt)\n"
    "  --socket PATH      pcloudsh's unix socket, root only (default\n"
    "                     STATE/pcloudd.sock)\n"
    "  --listen ADDR:PORT also serve pcloudsh over TCP here (off by\n"
    "                     default: user-mode guests reach the loopback)\n"
    "  --network NAME     NIC of assemblies that name none: user (QEMU\n"
    "                     user-mode, port forwards), none, or a libvirt\n"
    "                     network (default: user on embed, default on\n"
    "                     qemu:///system)\n"
    "  --forward-address A  host address of port forwards (default\n"
    "                     127.0.0.1)\n"
    "  --forward-ports F-L  host ports to allocate (default 20000-29999)\n"
    "  --agent-listen A[:P] also accept agents over TCP here (port\n"
    "                     49000 by default), for guests without the\n"
    "                     virtio-serial channel; off by default\n"
    "  --log-level LEVEL  trace, debug, info, warn, error (default info)\n"
    "  --log-file FILE    log here instead of standard error\n"
    "  --hooks-dir DIR    notification hooks (default STATE/hooks)\n"
    "  --hooks-timeout D  a hook running longer is killed (default 30s)\n"
    "  --tls-certificate FILE, --tls-key FILE, --tls-cafile FILE\n"
    "                     mutual TLS for the shell service (PEM); required\n"
    "                     when --listen is not a loopback address\n"
    "  --daemonize        run in the background once started\n"
    "  --help, --version\n"
    "SIGTERM leaves the VMs running; the next start adopts them.\n",
    default_config);
}

/// Takes the hard limit of open files as the soft one: every VM costs
/// pcloudd and libvirt descriptors (monitor, channel, console, GLib pipes),
/// and running out in the middle of a recovery must not happen. The door
/// keeps unauthenticated peers to a few dozen whatever the limit.
void raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

struct cli {
  daemon_options opts;
  pcloud::runtime::log_options log;
  bool daemonize = false;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "pcloudd: %s\n", message.c_str());
  std::exit(1);
}

bool parse_listen(const std::string& text, daemon_options& opts) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return false;
  }
  auto port = text.substr(colon + 1);
  if (port.size() > 5
      || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(port) > 65535) {
    return false;
  }
  opts.listen_address = text.substr(0, colon);
  opts.listen_port = static_cast<uint16_t>(std::stoul(port));
  return !opts.listen_address.empty();
}

/// A decimal of at most 5 digits, or -1.
long number(const std::string& x) {
  if (x.empty() || x.size() > 5
      || x.find_first_not_of("0123456789") != std::string::npos) {
    return -1;
  }
  return std::stol(x);
}

void set_forward_ports(const std::string& what, const std::string& text,
                       cli& c) {
  auto dash = text.find('-');
  auto first = dash == std::string::npos ? -1 : number(text.substr(0, dash));
  auto last = dash == std::string::npos ? -1 : number(text.substr(dash + 1));
  if (first < 1024 || last > 65535 || first > last) {
    die(what
        + " wants FIRST-LAST within 1024-65535 (QEMU cannot listen "
          "on privileged ports), not '"
        + text + "'");
  }
  c.opts.forward_first = static_cast<uint16_t>(first);
  c.opts.forward_last = static_cast<uint16_t>(last);
}

void set_forward_address(const std::string& what, const std::string& text,
                         cli& c) {
  in_addr ignored{};
  if (::inet_pton(AF_INET, text.c_str(), &ignored) != 1) {
    die(what + " wants an IPv4 address such as 127.0.0.1, not '" + text + "'");
  }
  c.opts.forward_address = text;
}

/// ADDRESS[:PORT] of the agents' TCP listener.
void set_agent_listen(const std::string& what, const std::string& text,
                      cli& c) {
  auto colon = text.find(':');
  auto address = text.substr(0, colon);
  in_addr ignored{};
  auto port
    = colon == std::string::npos ? 49000 : number(text.substr(colon + 1));
  if (::inet_pton(AF_INET, address.c_str(), &ignored) != 1 || port < 1
      || port > 65535) {
    die(what + " wants ADDRESS[:PORT] such as 127.0.0.1:49000, not '" + text
        + "'");
  }
  c.opts.agent_listen_address = address;
  c.opts.agent_listen_port = static_cast<uint16_t>(port);
}

void set_hooks_timeout(const std::string& what, const std::string& text,
                       cli& c) {
  auto d = pcloud::msg::parse_duration(text);
  if (!d || d->count() <= 0) {
    die(what + " wants a duration such as 30s or 500ms, not '" + text + "'");
  }
  c.opts.hooks_timeout
    = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

/// Reads the [pcloud] section of a CAF INI file into `c`.
void read_config(const std::string& path, cli& c) {
  if (::access(path.c_str(), R_OK) != 0) {
    die("cannot read the config file " + path + ": " + std::strerror(errno));
  }
  auto settings = caf::actor_system_config::parse_config_file(path.c_str());
  if (!settings) {
    die(path
        + ": not a valid config file: " + caf::to_string(settings.error()));
  }
  auto str = [&](const char* key, std::string& out) {
    if (auto value = caf::get_if<std::string>(&*settings, key)) {
      out = *value;
    }
  };
  str("pcloud.state-dir", c.opts.state_dir);
  str("pcloud.libvirt-uri", c.opts.libvirt_uri);
  str("pcloud.virt-type", c.opts.virt_type);
  str("pcloud.listen-address", c.opts.listen_address);
  str("pcloud.socket", c.opts.socket_path);
  str("pcloud.network", c.opts.network);
  std::string forward;
  str("pcloud.forward-address", forward);
  if (!forward.empty()) {
    set_forward_address(path + ": pcloud.forward-address", forward, c);
  }
  forward.clear();
  str("pcloud.forward-ports", forward);
  if (!forward.empty()) {
    set_forward_ports(path + ": pcloud.forward-ports", forward, c);
  }
  std::string agent_listen;
  str("pcloud.agent-listen", agent_listen);
  if (!agent_listen.empty()) {
    set_agent_listen(path + ": pcloud.agent-listen", agent_listen, c);
  }
  str("pcloud.log-level", c.log.level);
  str("pcloud.log-file", c.log.file);
  str("pcloud.hooks-dir", c.opts.hooks_dir);
  str("pcloud.tls-certificate", c.opts.tls_certificate);
  str("pcloud.tls-key", c.opts.tls_key);
  str("pcloud.tls-cafile", c.opts.tls_cafile);
  std::string hooks_timeout;
  str("pcloud.hooks-timeout", hooks_timeout);
  if (!hooks_timeout.empty()) {
    set_hooks_timeout(path + ": pcloud.hooks-timeout", hooks_timeout, c);
  }
  if (auto port = caf::get_if<int64_t>(&*settings, "pcloud.listen-port")) {
    if (*port < 0 || *port > 65535) {
      die(path + ": pcloud.listen-port must be 0-65535");
    }
    c.opts.listen_port = static_cast<uint16_t>(*port);
  }
  if (auto mib = caf::get_if<int64_t>(&*settings, "pcloud.log-max-mib")) {
    if (*mib < 1 || *mib > 4096) {
      die(path + ": pcloud.log-max-mib must be 1-4096");
    }
    c.log.max_size = static_cast<size_t>(*mib) * 1024 * 1024;
  }
  if (auto mib
      = caf::get_if<int64_t>(&*settings, "pcloud.console-log-max-mib")) {
    if (*mib < 1 || *mib > 4096) {
      die(path + ": pcloud.console-log-max-mib must be 1-4096");
    }
    c.opts.console_log_max = static_cast<size_t>(*mib) * 1024 * 1024;
  }
  if (auto n = caf::get_if<int64_t>(&*settings, "pcloud.log-max-files")) {
    if (*n < 1 || *n > 100) {
      die(path + ": pcloud.log-max-files must be 1-100");
    }
    c.log.max_files = static_cast<size_t>(*n);
  }
}

cli parse(int argc, char** argv) {
  cli c;
  c.opts.conf_dir = PCLOUD_CONF_DIR;
  c.opts.agent_bundle = PCLOUD_AGENT_BUNDLE_DIR;
  std::string config;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config = argv[i + 1];
    }
  }
  if (!config.empty()) {
    read_config(config, c);
  } else if (::access(default_config, R_OK) == 0) {
    read_config(default_config, c);
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        die(arg + " needs a value (--help lists the options)");
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("pcloudd %s\n", PCLOUD_VERSION);
      std::exit(0);
    } else if (arg == "--config") {
      value();
    } else if (arg == "--state-dir") {
      c.opts.state_dir = value();
    } else if (arg == "--uri") {
      c.opts.libvirt_uri = value();
    } else if (arg == "--socket") {
      c.opts.socket_path = value();
    } else if (arg == "--listen") {
      auto text = value();
      if (!parse_listen(text, c.opts)) {
        die("--listen wants ADDRESS:PORT, not '" + text + "'");
      }
    } else if (arg == "--network") {
      c.opts.network = value();
    } else if (arg == "--forward-address") {
      set_forward_address("--forward-address", value(), c);
    } else if (arg == "--forward-ports") {
      set_forward_ports("--forward-ports", value(), c);
    } else if (arg == "--agent-listen") {
      set_agent_listen("--agent-listen", value(), c);
    } else if (arg == "--log-level") {
      c.log.level = value();
    } else if (arg == "--log-file") {
      c.log.file = value();
    } else if (arg == "--hooks-dir") {
      c.opts.hooks_dir = value();
    } else if (arg == "--hooks-timeout") {
      set_hooks_timeout("--hooks-timeout", value(), c);
    } else if (arg == "--tls-certificate") {
      c.opts.tls_certificate = value();
    } else if (arg == "--tls-key") {
      c.opts.tls_key = value();
    } else if (arg == "--tls-cafile") {
      c.opts.tls_cafile = value();
    } else if (arg == "--daemonize") {
      c.daemonize = true;
    } else {
      die("unknown option '" + arg + "' (--help lists the options)");
    }
  }
  return c;
}

class daemon_config : public caf::actor_system_config {
public:
  explicit daemon_config(const daemon_options& opts) {
    pcloud::msg::add_message_types(*this);
    pcloud::runtime::apply_scheduler_settings(*this);
    load<caf::io::middleman>();
    if (opts.tls()) {
      // After the middleman (PLATFORM.md).
      load<caf::openssl::manager>();
      set("openssl.certificate", opts.tls_certificate);
      set("openssl.key", opts.tls_key);
      set("openssl.cafile", opts.tls_cafile);
    }
    set("logger.verbosity", caf::atom("quiet"));
    // Both ends of a shell link must agree (PLATFORM.md): pcloudsh sets
    // the same values.
    set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(2)});
    set("middleman.connection-timeout",
        caf::timespan{std::chrono::seconds(10)});
  }
};

/// Forks; the parent exits once the child reports that it started (0) or
/// failed (its error on standard error, exit 1). The child gets the pipe to
/// report on.
pcloud::posix::unique_fd detach() {
  pcloud::posix::fd_pair ready;
  if (!pcloud::posix::make_pipe(ready, 0)) {
    die(std::string{"pipe: "} + std::strerror(errno));
  }
  auto pid = ::fork();
  if (pid < 0) {
    die(std::string{"fork: "} + std::strerror(errno));
  }
  if (pid > 0) {
    ready.write.reset();
    char buf[512];
    auto n = ::read(ready.read.get(), buf, sizeof(buf));
    if (n > 0 && buf[0] == '+') {
      std::_Exit(0);
    }
    if (n > 1) {
      std::fprintf(stderr, "pcloudd: %.*s\n", static_cast<int>(n - 1), buf + 1);
    } else {
      std::fprintf(stderr, "pcloudd: failed to start (see its log)\n");
    }
    std::_Exit(1);
  }
  ready.read.reset();
  ::setsid();
  return std::move(ready.write);
}

/// Tells the parent of detach() how the start went, once: closes `ready`.
void report(pcloud::posix::unique_fd& ready, bool ok,
            const std::string& message) {
  if (!ready) {
    return;
  }
  auto text = (ok ? "+" : "-") + message;
  (void)!::write(ready.get(), text.data(), text.size());
  ready.reset();
}

} // namespace

int main(int argc, char** argv) {
  auto c = parse(argc, argv);
  if (auto err = pcloud::runtime::configure_logging(c.log); !err.empty()) {
    die(err);
  }
  pcloud::posix::unique_fd ready;
  if (c.daemonize) {
    ready = detach();
    if (c.log.file.empty()) {
      c.log.file = c.opts.state_dir + "/pcloudd.log";
      ::mkdir(c.opts.state_dir.c_str(), 0755);
      if (auto err = pcloud::runtime::configure_logging(c.log); !err.empty()) {
        report(ready, false, err);
        return 1;
      }
    }
  }
  // Every thread inherits this mask: the signals are taken by sigwait below.
  // Set before the first thread starts: a SIGTERM during the start went to
  // a thread that did not block it (the log flusher) and killed pcloudd.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A daemon's log is read while it runs: never more than a second behind.
  // Started only now: a thread started before the fork of --daemonize
  // would not exist in the child.
  spdlog::flush_every(std::chrono::seconds(1));
  // Checked before CAF sees the files: a bad key aborts CAF 0.17 later.
  if (auto err = pcloud::runtime::check_tls(c.opts); !err.empty()) {
    report(ready, false, err);
    die(err);
  }
  raise_descriptor_limit();
  daemon_config cfg{c.opts};
  caf::actor_system sys{cfg};
  auto d = pcloud::runtime::daemon::start(sys, c.opts);
  if (!d) {
    spdlog::error("pcloudd: {}", d.error());
    report(ready, false, d.error());
    if (!c.daemonize && !c.log.file.empty()) {
      // Logged to the file; the person who started pcloudd reads this.
      std::fprintf(stderr, "pcloudd: %s\n", d.error().c_str());
    }
    std::exit(1); // actors may still run: do not wait for them
  }
  if (c.daemonize) {
    report(ready, true, "");
    // A daemon keeps no terminal or pipe of its starter open (a caller
    // reading its output would wait for ever).
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
      ::dup2(null, fd);
    }
  }
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    spdlog::info("pcloudd: SIGHUP ignored (restart pcloudd to reload)");
  }
  spdlog::info("pcloudd: {}: stopping; VMs stay running and are adopted at "
               "the next start",
               strsignal(sig));
  pcloud::runtime::systemd_notify::send(
    "STOPPING=1\nSTATUS=stopping; the VMs stay running");
  (*d)->stop();
  sys.await_all_actors_done();
  spdlog::info("pcloudd: stopped");
  return 0;
}
