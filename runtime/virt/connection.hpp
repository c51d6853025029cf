// RAII over a libvirt connection and its domains. Every fallible call returns
// a result whose error was read from virGetLastError() on the calling thread,
// right after the call. No raw libvirt handle leaves runtime/virt.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "messages/hypervisor.hpp"
#include "runtime/result.hpp"

struct _virConnect;
struct _virDomain;

namespace pcloud::runtime::virt {

/// A lifecycle event as libvirt reported it.
struct lifecycle_event {
  std::string domain_name;
  std::string domain_uuid;
  msg::domain_event_kind kind = msg::domain_event_kind::stopped;
  /// libvirt's detail in words: "destroyed", "crashed", "shutdown", ...
  std::string detail;
};

class domain {
public:
  /// Adopts a reference returned by libvirt.
  explicit domain(_virDomain* ptr) noexcept;

  std::string name() const;
  std::string uuid() const;
  bool is_active() const;

  /// Forces the domain off (virDomainDestroy); returns once it is gone.
  result<void> destroy();
  /// Asks the guest to shut down (ACPI); returns at once.
  result<void> shutdown();
  /// The live domain XML.
  result<std::string> xml_desc() const;
  /// The <metadata> element of the given namespace, as XML text.
  result<std::string> metadata(const std::string& ns_uri) const;

private:
  struct free_fn {
    void operator()(_virDomain* p) const noexcept;
  };
  std::unique_ptr<_virDomain, free_fn> ptr_;
};

class connection {
public:
  using lifecycle_callback = std::function<void(const lifecycle_event&)>;

  /// Opens `uri`, starting libvirt's event loop first. Keepalive is switched
  /// on where the driver supports it (remote and qemu:///system).
  static result<connection> open(const std::string& uri);

  connection(connection&&) noexcept = default;
  connection& operator=(connection&&) noexcept = default;
  ~connection();

  const std::string& uri() const { return uri_; }

  /// Starts a transient domain from XML (virDomainCreateXML).
  result<domain> create(const std::string& xml);
  /// The domain called `name`; an empty optional when there is none.
  result<std::optional<domain>> lookup(const std::string& name);
  result<std::vector<domain>> list_active();
  /// The names of the libvirt networks this connection defines (active or
  /// not); an error where the driver has no networks (embed).
  result<std::vector<std::string>> network_names();
  /// The subnets of the libvirt network `name` ("10.213.5.0/24",
  /// "fd00:5::/64"), from its `<ip>` elements.
  result<std::vector<std::string>> network_subnets(const std::string& name);
  /// The addresses the DHCP server of libvirt network `network` leased to
  /// the NIC `mac`; not_found when the network hands out none.
  result<std::vector<std::string>> dhcp_leases(const std::string& network,
                                               const std::string& mac);
  bool alive() const;

  /// Asks for the domain capabilities of `virt_type` guests on x86_64,
  /// which makes libvirt probe QEMU now if its cache is cold.
  result<void> probe_capabilities(const std::string& virt_type);

  /// Calls `cb` on libvirt's event loop thread for every lifecycle event of
  /// every domain; for the lifetime of this connection.
  result<void> on_lifecycle(lifecycle_callback cb);
  /// Calls `cb` on the event loop thread when the connection closes under
  /// us (libvirtd restarted, network gone).
  result<void> on_close(std::function<void(const std::string&)> cb);

  /// Deregisters every callback registered above.
  void drop_callbacks();

  /// Drops the callbacks and closes the connection now (an embed root can
  /// be opened by one process at a time).
  void close();

private:
  struct free_fn {
    void operator()(_virConnect* p) const noexcept;
  };
  connection(_virConnect* ptr, std::string uri);

  std::unique_ptr<_virConnect, free_fn> ptr_;
  std::string uri_;
  std::vector<int> callback_ids_;
  bool close_registered_ = false;
};

/// The error libvirt recorded on this thread for the call `what`.
failure last_error(const std::string& what);

} // namespace pcloud::runtime::virt
