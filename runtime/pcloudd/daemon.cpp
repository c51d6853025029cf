#include "runtime/pcloudd/daemon.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/event_bus.hpp"
#include "actors/shell_service.hpp"
#include "runtime/agent_secret.hpp" // random_secret
#include "runtime/console.hpp"
#include "runtime/control/basp.hpp"
#include "runtime/definitions_xml.hpp"
#include "runtime/domain_plan.hpp"
#include "runtime/hooks.hpp"
#include "runtime/hypervisor.hpp"
#include "runtime/image_store.hpp"
#include "runtime/qemu_host.hpp"
#include "runtime/readiness_reporter.hpp"
#include "runtime/service_prober.hpp"
#include "runtime/store.hpp"
#include "runtime/systemd_notify.hpp"

namespace pcloud::runtime {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

result<std::vector<msg::resource_template>>
load_templates(const std::string& dir, const std::string& schema_path) {
  auto schema = xml::schema::load(schema_path);
  if (!schema) {
    return fail(schema.error());
  }
  std::vector<msg::resource_template> result;
  std::error_code ec;
  std::vector<fs::path> files;
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".xml") {
      files.push_back(entry.path());
    }
  }
  if (ec) {
    return fail("cannot read templates in " + dir + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  for (auto& path : files) {
    auto text = read_file(path.string());
    if (!text) {
      return fail(text.error());
    }
    auto t = template_from_xml(*text, path.string(), *schema);
    if (!t) {
      // conf/ ships with pcloud: a bad template is a broken install.
      return fail(t.error());
    }
    result.push_back(std::move(*t));
  }
  return result;
}

} // namespace

std::string token_path(const std::string& state_dir) {
  return state_dir + "/shell.token";
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || address == "::1"
         || address.rfind("127.", 0) == 0;
}

std::string check_tls(const daemon_options& opts) {
  auto given = !opts.tls_certificate.empty() + !opts.tls_key.empty()
               + !opts.tls_cafile.empty();
  if (given == 0) {
    if (!opts.listen_address.empty() && !is_loopback(opts.listen_address)) {
      return "a shell listener on " + opts.listen_address
             + " must use TLS: set tls-certificate, tls-key and tls-cafile "
               "(or listen on 127.0.0.1)";
    }
    return {};
  }
  if (given != 3) {
    return "TLS needs all of tls-certificate, tls-key and tls-cafile";
  }
  if (opts.listen_address.empty()) {
    return "TLS is for a TCP listener: set listen-address (--listen) too";
  }
  for (auto& [what, path] : {std::pair{"tls-certificate", opts.tls_certificate},
                             std::pair{"tls-key", opts.tls_key},
                             std::pair{"tls-cafile", opts.tls_cafile}}) {
    auto text = read_file(path);
    if (!text) {
      return std::string{what} + ": " + text.error();
    }
    if (text->find("-----BEGIN") == std::string::npos) {
      return std::string{what} + ": " + path + " is not a PEM file";
    }
    if (text->find("ENCRYPTED") != std::string::npos) {
      return std::string{what} + ": " + path
             + " is encrypted; pcloudd needs the key without a passphrase";
    }
  }
  return {};
}

std::string socket_path_of(const daemon_options& opts) {
  return opts.socket_path.empty() ? opts.state_dir + "/pcloudd.sock"
                                  : opts.socket_path;
}

std::string address_path(const std::string& state_dir) {
  return state_dir + "/shell.address";
}

/// A random secret of 64 hex digits at `path` (0600), made once: the shell
/// token.
result<std::string> load_or_create_secret(const std::string& path) {
  if (fs::exists(path)) {
    auto text = read_file(path);
    if (!text) {
      return fail(text.error());
    }
    auto token = *text;
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) {
      token.pop_back();
    }
    if (token.size() < 32) {
      return fail(path
                  + ": too short to be a secret (delete it to make a "
                    "new one)");
    }
    return token;
  }
  auto token = random_secret();
  if (auto ok = write_file_atomically(path, token + "\n", 0600); !ok) {
    return fail(ok.error());
  }
  return token;
}

std::string libvirt_uri_of(const daemon_options& opts) {
  if (!opts.libvirt_uri.empty()) {
    return opts.libvirt_uri;
  }
  return "qemu:///embed?root=" + opts.state_dir + "/libvirt";
}

result<std::unique_ptr<daemon>> daemon::start(caf::actor_system& sys,
                                              daemon_options opts) {
  if (auto err = check_tls(opts); !err.empty()) {
    return fail(err);
  }
  std::error_code ec;
  fs::create_directories(opts.state_dir, ec);
  if (ec) {
    return fail("cannot create state directory " + opts.state_dir + ": "
                + ec.message());
  }
  // Root's, and QEMU's to pass through; what is private inside is 0700 or
  // 0600 of its own besides.
  if (auto closed = close_state_dir(opts.state_dir); !closed) {
    spdlog::warn("pcloudd: state directory: {}", closed.error());
  }
  std::unique_ptr<daemon> d{new daemon(sys)};
  // One pcloudd per state directory: two would write the same files and
  // fight over the same VMs.
  auto lock = opts.state_dir + "/pcloudd.lock";
  d->lock_fd_.reset(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!d->lock_fd_ || ::flock(d->lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    auto owner = read_file(lock);
    auto pid = owner ? *owner : std::string{};
    while (!pid.empty() && pid.back() == '\n') {
      pid.pop_back();
    }
    return fail("another pcloudd uses " + opts.state_dir
                + (pid.empty() ? "" : " (pid " + pid + ")"));
  }
  auto pid_text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(d->lock_fd_.get(), 0) != 0
      || ::pwrite(d->lock_fd_.get(), pid_text.data(), pid_text.size(), 0) < 0) {
    spdlog::warn("pcloudd: cannot write {}", lock);
  }
  auto token = load_or_create_secret(token_path(opts.state_dir));
  if (!token) {
    return fail(token.error());
  }
  d->token_ = *token;
  auto schema = opts.conf_dir + "/schema/definitions.rng";
  auto templates = load_templates(opts.conf_dir + "/templates", schema);
  if (!templates) {
    return fail(templates.error());
  }
  auto store = spawn_store(
    sys, {opts.state_dir + "/definitions", schema, opts.state_dir + "/disks"});
  if (!store) {
    return fail(store.error());
  }
  d->actors_.push_back(caf::actor_cast<caf::actor>(*store));
  // The operator's definitions are nobody else's to read.
  fs::permissions(opts.state_dir + "/definitions", fs::perms::owner_all, ec);
  image_store_options images{opts.state_dir + "/images",
                             opts.conf_dir + "/jeos", opts.agent_bundle,
                             opts.state_dir + "/disks"};
  auto image_store = spawn_image_store(sys, images);
  d->actors_.push_back(caf::actor_cast<caf::actor>(image_store));
  auto bus = sys.spawn(actors::event_bus, size_t{1000});
  d->actors_.push_back(caf::actor_cast<caf::actor>(bus));
  hook_options hooks;
  hooks.directory
    = opts.hooks_dir.empty() ? opts.state_dir + "/hooks" : opts.hooks_dir;
  hooks.timeout = opts.hooks_timeout;
  fs::create_directories(hooks.directory, ec);
  if (opts.hooks_dir.empty()) {
    // pcloud's own: what runs as root is nobody else's to list or change.
    fs::permissions(hooks.directory, fs::perms::owner_all, ec);
  }
  auto hook_runner = spawn_hook_runner(sys, hooks);
  caf::anon_send(bus, caf::subscribe_atom::value, hook_runner);
  d->actors_.push_back(caf::actor_cast<caf::actor>(hook_runner));
  auto gateway_opts = opts.gateway;
  uint16_t agent_port = 0;
  if (!opts.agent_listen_address.empty()) {
    auto fd = listen_tcp(opts.agent_listen_address, opts.agent_listen_port);
    if (!fd) {
      d->stop();
      return msg::with_context(fd.failure_value(), "agent listener: ");
    }
    gateway_opts.tcp_listener = *fd;
    agent_port = bound_port(*fd);
    spdlog::info("pcloudd: agents without a channel connect to {}:{}",
                 opts.agent_listen_address, agent_port);
  }
  hypervisor_options hv_opts;
  hv_opts.uri = libvirt_uri_of(opts);
  hv_opts.state_dir = opts.state_dir;
  hv_opts.images = make_image_resolver(images);
  hv_opts.virt_type = opts.virt_type;
  hv_opts.default_network = opts.network;
  hv_opts.forward_address = opts.forward_address;
  hv_opts.agent_port = agent_port;
  hv_opts.console_log_max = opts.console_log_max;
  if (auto root = embed_root_of(hv_opts.uri); !root.empty()) {
    if (auto ok = prepare_embed_root(root); !ok) {
      d->stop();
      return fail(ok.error());
    }
  }
  auto hv = spawn_hypervisor(sys, hv_opts);
  if (!hv) {
    d->stop();
    return fail(hv.error());
  }
  d->actors_.push_back(caf::actor_cast<caf::actor>(*hv));
  auto gateway = spawn_guest_gateway(sys, gateway_opts);
  d->actors_.push_back(caf::actor_cast<caf::actor>(gateway));
  msg::definitions loaded;
  {
    caf::scoped_actor self{sys};
    self->request(*store, 30s, caf::get_atom::value)
      .receive([&](msg::definitions& x) { loaded = std::move(x); },
               [&](caf::error&) {});
  }
  for (auto& problem : loaded.problems) {
    // Already logged by the store; repeated for the operator at start.
    spdlog::warn("pcloudd: definition set aside: {}", problem);
  }
  // What the readiness report waits for: the VMs of what was running.
  readiness_options readiness;
  for (auto& dep : loaded.deployables) {
    if (dep.running) {
      for (auto& a : dep.assemblies) {
        readiness.adopting.push_back(dep.name + "/" + a);
      }
    }
  }
  auto consoles = spawn_console_factory(sys);
  d->actors_.push_back(caf::actor_cast<caf::actor>(consoles));
  actors::network_settings network{network_of(hv_opts, {}),
                                   opts.forward_address, opts.forward_first,
                                   opts.forward_last, agent_port};
  auto prober = spawn_service_prober(sys);
  d->actors_.push_back(caf::actor_cast<caf::actor>(prober));
  actors::shell_services services{*store,  image_store, bus,     *hv,
                                  gateway, consoles,    network, prober};
  // Before the shell service starts the trees: their first events find
  // it subscribed.
  readiness.watchdog = std::chrono::duration_cast<caf::timespan>(
    systemd_notify::watchdog_interval());
  readiness.notify = [](const std::string& x) { systemd_notify::send(x); };
  auto reporter = sys.spawn(readiness_reporter, std::move(readiness));
  caf::anon_send(bus, caf::subscribe_atom::value,
                 caf::actor_cast<msg::event_listener_actor>(reporter));
  d->actors_.push_back(caf::actor_cast<caf::actor>(reporter));
  auto shell = sys.spawn(actors::shell_service, d->token_, services,
                         std::move(*templates), std::move(loaded),
                         static_cast<uint64_t>(std::random_device{}()) << 32
                           ^ std::random_device{}());
  // The service first, so it stops its deployables before the services
  // they use go away.
  d->actors_.insert(d->actors_.begin(), caf::actor_cast<caf::actor>(shell));
  // The shell service supervises the deployables' trees, which end with
  // it. If it ends by anything but this daemon's stop, pcloudd ends too,
  // with an error, so that its own supervisor (systemd: Restart=on-failure)
  // starts a new one that adopts the running VMs: never a daemon that looks
  // alive and watches nothing.
  shell->attach_functor([stopping = d->stopping_](const caf::error& reason) {
    if (!*stopping) {
      spdlog::critical("pcloudd: the shell service ended ({}): exiting so "
                       "that a new pcloudd adopts the VMs",
                       caf::to_string(reason));
      spdlog::default_logger()->flush();
      std::_Exit(exit_status_shell_lost);
    }
  });
  if (opts.tls()) {
    // CAF's own TLS listener: mutual TLS authenticates the peer before
    // BASP (not yet bounded like the door: doc/security.md).
    auto port = caf::openssl::publish(shell, opts.listen_port,
                                      opts.listen_address.c_str(), true);
    if (!port) {
      d->stop();
      auto why = port.error() == caf::sec::cannot_open_port
                   ? std::string{"the address is in use or not local"}
                   : sys.render(port.error());
      return fail("cannot listen on " + opts.listen_address + ":"
                  + std::to_string(opts.listen_port) + ": " + why);
    }
    d->port_ = *port;
    d->tls_published_ = true;
  }
  control::door_options door;
  door.token = d->token_;
  door.socket_path = socket_path_of(opts);
  if (!opts.tls()) {
    door.tcp_address = opts.listen_address;
    door.tcp_port = opts.listen_port;
  }
  auto whom = caf::actor_cast<caf::strong_actor_ptr>(shell);
  auto opened = control::control_door::open(
    door, [&sys, whom](posix::unique_fd fd, const std::string& peer) {
      spdlog::debug("pcloudd: shell connection from {}", peer);
      control::serve_over(sys, std::move(fd), whom);
    });
  if (!opened) {
    d->stop();
    return msg::with_context(opened.failure_value(), "shell service: ");
  }
  d->door_ = std::move(*opened);
  if (!opts.tls()) {
    d->port_ = d->door_->tcp_port();
  }
  // Where pcloudsh --state-dir finds a TCP listener (the port may be
  // chosen by the system).
  fs::remove(address_path(opts.state_dir), ec);
  if (d->port_ != 0) {
    auto address = opts.listen_address + ":" + std::to_string(d->port_) + "\n";
    if (auto ok
        = write_file_atomically(address_path(opts.state_dir), address, 0644);
        !ok) {
      d->stop();
      return fail(ok.error());
    }
    d->address_file_ = address_path(opts.state_dir);
  }
  // Shell connections are taken: the service manager may hear READY.
  caf::anon_send(reporter, msg::start_atom::value);
  spdlog::info(
    "pcloudd: shell service on {}{}, libvirt {}, state {}", door.socket_path,
    d->port_ == 0 ? std::string{}
                  : " and " + opts.listen_address + ":"
                      + std::to_string(d->port_) + (opts.tls() ? " (TLS)" : ""),
    hv_opts.uri, opts.state_dir);
  return d;
}

daemon::~daemon() {
  stop();
}

void daemon::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  *stopping_ = true;
  // No new shell connections while the tree goes away, and no address
  // that points at nothing.
  door_.reset();
  if (!address_file_.empty()) {
    ::unlink(address_file_.c_str());
  }
  if (tls_published_ && !actors_.empty()) {
    (void)sys_.middleman().unpublish(actors_[0], port_);
  }
  for (auto& a : actors_) {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  actors_.clear();
}

} // namespace pcloud::runtime
