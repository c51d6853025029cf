// What the operator defines: resources, assemblies, deployables and the
// escalation settings that govern their recovery. Plain data, inspectable so
// it can cross CAF remote links between pcloudsh and pcloudd.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>
#include <caf/timespan.hpp>

#include "messages/error.hpp"

namespace pcloud::msg {

/// How often a level may fail before it stops recovering by itself, and how
/// long it waits between attempts. Intensity follows Erlang's supervisors:
/// more than `max_failures` failures within the sliding `window` escalate.
/// The first restart is immediate; the next ones within the allowed failures
/// wait `backoff_initial` each (the restart delay: short, so a second
/// failure is not a longer outage). A level that never escalates
/// (`max_failures` 0) backs off as Kubernetes' crash loop does: doubling up
/// to `backoff_max`. After `backoff_reset` without a failure the next
/// restart is immediate again.
struct escalation_policy {
  /// 0 means never escalate.
  uint32_t max_failures = 0;
  caf::timespan window{0};
  /// 0 means no backoff at all: every restart is immediate.
  caf::timespan backoff_initial{0};
  caf::timespan backoff_max{0};
  caf::timespan backoff_reset{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, escalation_policy& x) {
  return f(caf::meta::type_name("escalation_policy"), x.max_failures, x.window,
           x.backoff_initial, x.backoff_max, x.backoff_reset);
}

bool operator==(const escalation_policy& x, const escalation_policy& y);

/// Resource default: 5 failures in 60 s; restarts at once, then after
/// 500 ms each; reset after 5 minutes without a failure.
escalation_policy default_resource_policy();

/// Assembly default: 3 VM failures in 300 s; restarts at once, then after
/// 500 ms each; reset after 5 minutes without a failure.
escalation_policy default_assembly_policy();

/// Neither backoff nor escalation: what restart-path benchmarks run with.
escalation_policy no_escalation_policy();

/// What a deployable does when one of its assemblies exceeds its intensity.
enum class deployable_policy : uint8_t {
  /// Restart every assembly, at most `max_failures` times per `window`; past
  /// that, stop everything and declare the deployable FAILED.
  restart_all,
  /// Stop everything and declare the deployable FAILED at once.
  stop,
};

std::string to_string(deployable_policy x);
std::optional<deployable_policy> parse_deployable_policy(const std::string& x);

/// A port a resource's service listens on inside the guest, and the host
/// port that reaches it where the guest is on user-mode networking
/// (qemu:///embed): pcloud forwards the host port to the guest port.
struct service_port {
  /// What the port is for, as people say it: "http".
  std::string name;
  /// "tcp" or "udp".
  std::string protocol = "tcp";
  uint16_t guest_port = 0;
  /// 0 until pcloud allocates one. Kept with the assembly, so it stays the
  /// same across VM restarts, daemon restarts and adoptions.
  uint16_t host_port = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_port& x) {
  return f(caf::meta::type_name("service_port"), x.name, x.protocol,
           x.guest_port, x.host_port);
}

bool operator==(const service_port& x, const service_port& y);

/// "http 127.0.0.1:20080 -> 80" (forwarded), "http 192.0.2.7:80" (a guest
/// address on a libvirt network), "http 80/udp" (no address known).
std::string describe_port(const service_port& x, const std::string& address,
                          bool forwarded);

/// How the agent checks that a resource's service answers, besides the
/// check of its class (the process alive and not stopped, the OCF monitor,
/// the LSB status, the systemd unit state). Run inside the guest against
/// its loopback. The first pass makes the resource ACTIVE (readiness);
/// afterwards `failures` failures in a row mean it is hung: it is killed and
/// restarted (liveness). Failures count from the end of `initial_delay`.
struct probe_spec {
  /// tcp (a connect), http (a GET), command (exit status 0); empty: none.
  std::string kind;
  /// tcp, http: the guest port.
  uint16_t port = 0;
  /// http: the path, and the status range that passes.
  std::string path = "/";
  uint16_t status_min = 200;
  uint16_t status_max = 399;
  /// http: text the body must contain (empty: any).
  std::string body;
  /// command: run by /bin/sh -c in the guest.
  std::string command;
  caf::timespan interval{std::chrono::seconds(1)};
  /// Below the interval, so one check ends before the next begins.
  caf::timespan timeout{std::chrono::milliseconds(500)};
  uint32_t failures = 3;
  caf::timespan initial_delay{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, probe_spec& x) {
  return f(caf::meta::type_name("probe_spec"), x.kind, x.port, x.path,
           x.status_min, x.status_max, x.body, x.command, x.interval, x.timeout,
           x.failures, x.initial_delay);
}

bool operator==(const probe_spec& x, const probe_spec& y);

/// The probe settings `probe_set` takes, in the order help lists them.
const std::vector<std::string>& probe_settings();

/// Sets one setting of `x` from text, checking it alone (`check_probe`
/// checks the whole). The error names the setting.
error set_probe_setting(probe_spec& x, const std::string& setting,
                        const std::string& value);

/// Why `x` cannot run, naming the setting; none when it can. A probe of
/// kind "" (none) always can.
error check_probe(const probe_spec& x);

/// "http :80/ every 1s, timeout 500ms, 3 failures", "none".
std::string describe_probe(const probe_spec& x);

/// A managed service inside a guest, e.g. httpd. `name` is unique within its
/// assembly only: three assemblies may each run a resource called "httpd".
struct resource_spec {
  std::string name;
  /// exec, ocf, lsb or systemd.
  std::string resource_class;
  /// The agent, script or unit: "heartbeat:apache", "httpd.service", or the
  /// command line for the exec class.
  std::string type;
  std::map<std::string, std::string> parameters;
  caf::timespan monitor_interval{std::chrono::seconds(10)};
  caf::timespan monitor_timeout{std::chrono::seconds(20)};
  /// Overrides the deployable's resource default when set.
  caf::optional<escalation_policy> escalation;
  /// Where the service listens; templates declare them (httpd: 80/tcp).
  std::vector<service_port> ports;
  /// Templates give one to services with a port (httpd: HTTP GET /).
  probe_spec probe;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_spec& x) {
  return f(caf::meta::type_name("resource_spec"), x.name, x.resource_class,
           x.type, x.parameters, x.monitor_interval, x.monitor_timeout,
           x.escalation, x.ports, x.probe);
}

bool operator==(const resource_spec& x, const resource_spec& y);

/// The most resources one assembly has: what the guest link carries in one
/// configuration (guest/link/wire.hpp's limits::max_resources).
inline constexpr size_t max_resources_per_assembly = 256;

/// One VM: a JEOS image plus its identity and its resources. `uuid` is
/// pcloud's identity of the assembly; libvirt domains come and go under it.
struct assembly_spec {
  std::string name;
  std::string uuid;
  std::string jeos;
  uint32_t memory_mib = 128;
  uint32_t vcpus = 1;
  std::vector<resource_spec> resources;
  /// Overrides the deployable's assembly default when set.
  caf::optional<escalation_policy> escalation;
  /// How long a booting VM may take until its agent says hello.
  caf::timespan boot_timeout{std::chrono::seconds(120)};
  /// How long a graceful shutdown may take before the VM is forced off.
  caf::timespan stop_timeout{std::chrono::seconds(30)};
  /// The guest's NIC: empty for pcloudd's default (user-mode networking on
  /// qemu:///embed, libvirt's `default` network on qemu:///system),
  /// `user`, `none` (no NIC), or the name of a libvirt network.
  std::string network;
  /// How the guest's agent reaches pcloudd: empty for the virtio-serial
  /// channel, `tcp` for pcloudd's agent listener (no channel in the domain),
  /// `none` for a guest without an agent (no channel): pcloudd watches the
  /// VM and probes its services' ports from the host.
  std::string agent_transport;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, assembly_spec& x) {
  return f(caf::meta::type_name("assembly_spec"), x.name, x.uuid, x.jeos,
           x.memory_mib, x.vcpus, x.resources, x.escalation, x.boot_timeout,
           x.stop_timeout, x.network, x.agent_transport);
}

/// The network names with a meaning of their own in `assembly_spec::network`.
inline constexpr const char* user_network = "user";
inline constexpr const char* no_network = "none";

/// The values of `assembly_spec::agent_transport` (empty means channel).
inline constexpr const char* channel_transport = "channel";
inline constexpr const char* tcp_transport = "tcp";
inline constexpr const char* no_agent = "none";

bool operator==(const assembly_spec& x, const assembly_spec& y);

/// A set of assemblies that together provide one service.
struct deployable_spec {
  std::string name;
  std::vector<assembly_spec> assemblies;
  deployable_policy policy = deployable_policy::restart_all;
  /// How often `restart_all` may happen: once per hour by default.
  uint32_t max_restarts = 1;
  caf::timespan restart_window{std::chrono::hours(1)};
  /// Defaults for the assemblies and resources that set none of their own.
  escalation_policy assembly_escalation = default_assembly_policy();
  escalation_policy resource_escalation = default_resource_policy();
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deployable_spec& x) {
  return f(caf::meta::type_name("deployable_spec"), x.name, x.assemblies,
           x.policy, x.max_restarts, x.restart_window, x.assembly_escalation,
           x.resource_escalation);
}

bool operator==(const deployable_spec& x, const deployable_spec& y);

/// A resource as a template makes it for one kind of JEOS: httpd is busybox
/// httpd (exec class) on tiny and apache2 through systemd on debian12. The
/// resource's name is given when the template is used.
struct resource_template {
  std::string name;
  std::string description;
  /// JEOS distro -> the resource it makes there (its name left empty).
  std::map<std::string, resource_spec> variants;
};

/// Renders a duration for people: "0s", "250ms", "5s", "2m", "1h".
std::string format_duration(caf::timespan x);

/// Renders a duration exactly, for files: "250ms", "60s", "5min", "1h".
std::string format_exact_duration(caf::timespan x);

/// Parses "250ms", "60s", "5min", "1h" or a plain number of seconds.
std::optional<caf::timespan> parse_duration(const std::string& text);

} // namespace pcloud::msg
