// What the hypervisor layer tells assemblies about their domains.
#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace pcloud::msg {

/// One run of an assembly's VM. A restart may start a domain under a new
/// name and UUID (libvirt cleans up a dead domain slowly), so events name the
/// incarnation they belong to and stale ones can be told apart.
struct domain_info {
  std::string assembly;
  uint64_t incarnation = 0;
  std::string domain_name;
  std::string domain_uuid;
  /// True when the domain was already running and has been adopted.
  bool adopted = false;
  /// The host end of the agent's virtio-serial channel (a unix socket);
  /// empty when the domain has none.
  std::string agent_channel;
  /// Without a channel: the secret this incarnation's agent proves itself
  /// with over TCP (random per incarnation).
  std::string agent_secret;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, domain_info& x) {
  return f(caf::meta::type_name("domain_info"), x.assembly, x.incarnation,
           x.domain_name, x.domain_uuid, x.adopted, x.agent_channel,
           x.agent_secret);
}

enum class domain_event_kind : uint8_t {
  started,
  /// The domain is gone: killed, destroyed, crashed or its qemu exited.
  stopped,
  /// The guest shut itself down (or was asked to by someone else).
  shutdown,
  crashed,
  paused,
  resumed,
};

std::string to_string(domain_event_kind x);

/// Whether an event of this kind means the VM no longer runs.
bool is_death(domain_event_kind x);

struct domain_event {
  std::string assembly;
  uint64_t incarnation = 0;
  domain_event_kind kind = domain_event_kind::stopped;
  /// libvirt's detail or the signal that was seen, e.g. "destroyed",
  /// "qemu exited (signal 9)".
  std::string reason;
  /// True when pcloud itself asked for this (a stop or a restart): such an
  /// event is never taken as a failure.
  bool requested = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, domain_event& x) {
  return f(caf::meta::type_name("domain_event"), x.assembly, x.incarnation,
           x.kind, x.reason, x.requested);
}

} // namespace pcloud::msg
