// The guest link's wire protocol: what pcloud-agent and the host's guest
// gateway say to each other over AMQP 1.0. Shared by both ends, so it depends
// on proton only (no CAF: the agent runs without it).
//
// Every AMQP message has a `subject` naming its kind and an application
// property `v` with the protocol version; its body is an AMQP map with string
// keys. Decoding checks everything: a message that is not exactly one of the
// kinds below, within the limits below, is refused with a reason.
//
//   agent -> host   hello     {assembly, agent_version, boot_id, addresses,
//                              nonce (TCP only)}
//                   proof     {proof} (TCP only, after the challenge)
//                   resource  {resource, condition, cause}
//                   probe     {resource, ok, failures, detail}
//   host -> agent   challenge {nonce, proof} (TCP only, after the hello)
//                   configure {assembly, resources: [{name, class, type,
//                              parameters, monitor_interval_ms,
//                              monitor_timeout_ms, probe: {kind, port,
//                              path, status_min, status_max, body, command,
//                              interval_ms, timeout_ms, failures,
//                              initial_delay_ms}}]}
//                   command   {resource, operation}
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <proton/message.hpp>

namespace pcloud::wire {

/// The HOST in `pcloud.host=HOST:PORT` (SMBIOS, for agents on the TCP
/// transport) that means the guest's default route's gateway: the host as
/// the guest sees it.
inline constexpr const char* gateway_host = "gateway";

/// Version spoken by this build; a peer with another version is refused.
/// 2: probes in the configuration, probe results from the agent.
/// 3: on TCP, proofs of the secret both ways instead of the secret itself.
constexpr uint32_t protocol_version = 3;

/// Limits on what a peer may send (the host treats the guest as untrusted).
struct limits {
  static constexpr size_t max_message_bytes = 64 * 1024;
  static constexpr size_t max_name = 128;
  static constexpr size_t max_text = 1024;
  static constexpr size_t max_addresses = 16;
  static constexpr size_t max_resources = 256;
  static constexpr size_t max_parameters = 64;
  /// A probe's HTTP path, expected body and command.
  static constexpr size_t max_probe_text = 1024;
  static constexpr uint32_t min_probe_interval_ms = 100;
  static constexpr uint32_t max_probe_interval_ms = 3600 * 1000;
  static constexpr uint32_t max_probe_failures = 100;
  /// AMQP endpoints one connection may open: an agent needs one session
  /// and two links (a reconnect within a connection never happens).
  static constexpr size_t max_sessions = 2;
  static constexpr size_t max_links = 4;
};

/// The agent introduces itself after every (re)connect.
struct hello {
  uint32_t version = protocol_version;
  std::string assembly;
  std::string agent_version;
  /// Changes with every boot of the guest.
  std::string boot_id;
  std::vector<std::string> addresses;
  /// The agent's nonce (proof.hpp): required on the TCP transport, where
  /// the connection alone does not say which guest speaks; empty on a
  /// channel.
  std::string nonce;
};

/// The host's answer to a TCP hello: its nonce and its proof of the
/// secret (proof.hpp). The agent checks the proof before it proves
/// anything or takes any other message.
struct challenge {
  std::string nonce;
  std::string proof;
};

/// The agent's proof of the secret, after a challenge that proved the
/// host's.
struct proof {
  std::string proof;
};

/// The guest's addresses changed after its hello (a DHCP lease came late
/// or changed): all of them, as in the hello.
struct address_change {
  std::vector<std::string> addresses;
};

/// running, stopped, failed or start_failed (msg::resource_condition).
struct resource_state {
  std::string resource;
  std::string condition;
  /// Why, in words: "killed by signal 9", "monitor returned 7".
  std::string cause;
};

/// A resource's liveness and readiness check, run by the agent in the guest
/// (msg::probe_spec says what each field means).
struct probe_definition {
  /// tcp, http or command; empty: no probe.
  std::string kind;
  uint32_t port = 0;
  std::string path;
  uint32_t status_min = 200;
  uint32_t status_max = 399;
  std::string body;
  std::string command;
  uint32_t interval_ms = 1000;
  uint32_t timeout_ms = 500;
  uint32_t failures = 3;
  uint32_t initial_delay_ms = 0;
};

bool operator==(const probe_definition& x, const probe_definition& y);

/// Why `x` cannot be run, naming the field; empty when it can. Both ends
/// check: the shell service before saving, the agent before running.
std::string check_probe(const probe_definition& x);

/// A probe's result changed: it passed after failing (or for the first
/// time), or it failed once more. Sent on change only, so a steady probe
/// costs the link nothing.
struct probe_result {
  std::string resource;
  bool ok = false;
  /// Consecutive failures so far (0 when ok).
  uint32_t failures = 0;
  /// "status 200", "connection refused", "timed out after 500ms".
  std::string detail;
};

struct resource_definition {
  std::string name;
  /// exec, ocf, lsb or systemd.
  std::string resource_class;
  std::string type;
  std::map<std::string, std::string> parameters;
  uint32_t monitor_interval_ms = 10000;
  uint32_t monitor_timeout_ms = 20000;
  probe_definition probe;
};

/// The host sets the guest's resource set (replacing any earlier one).
struct configure {
  std::string assembly;
  std::vector<resource_definition> resources;
};

/// start, stop, restart or monitor.
struct command {
  std::string resource;
  std::string operation;
};

using from_agent
  = std::variant<hello, resource_state, address_change, probe_result, proof>;
using from_host = std::variant<configure, command, challenge>;

/// A decoded message or why it was refused.
template <class T>
struct decoded {
  T value;
  std::string error;
  bool ok() const { return error.empty(); }
};

proton::message encode(const hello& x);
proton::message encode(const resource_state& x);
proton::message encode(const address_change& x);
proton::message encode(const probe_result& x);
proton::message encode(const proof& x);
proton::message encode(const challenge& x);
proton::message encode(const configure& x);
proton::message encode(const command& x);

decoded<from_agent> decode_from_agent(const proton::message& m);
decoded<from_host> decode_from_host(const proton::message& m);

/// Decodes raw AMQP message bytes (what the fuzzer feeds): proton's decoder
/// first, then the checks above.
decoded<from_agent> decode_from_agent(const char* data, size_t size);

bool valid_condition(const std::string& x);
bool valid_operation(const std::string& x);
bool valid_class(const std::string& x);

} // namespace pcloud::wire
