#include "runtime/virt/connection.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <arpa/inet.h>

#include <algorithm>
#include <bitset>

#include "runtime/virt/event_loop.hpp"
#include "runtime/xml/document.hpp"

namespace pcloud::runtime::virt {

namespace {

std::optional<lifecycle_event> translate(int event, int detail) {
  lifecycle_event ev;
  using kind = msg::domain_event_kind;
  switch (event) {
  case VIR_DOMAIN_EVENT_STARTED:
    ev.kind = kind::started;
    ev.detail = "started";
    return ev;
  case VIR_DOMAIN_EVENT_SUSPENDED:
    ev.kind = kind::paused;
    ev.detail = "paused";
    return ev;
  case VIR_DOMAIN_EVENT_RESUMED:
    ev.kind = kind::resumed;
    ev.detail = "resumed";
    return ev;
  case VIR_DOMAIN_EVENT_CRASHED:
    ev.kind = kind::crashed;
    ev.detail = "guest crashed";
    return ev;
  case VIR_DOMAIN_EVENT_STOPPED:
    switch (detail) {
    case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
      ev.kind = kind::shutdown;
      ev.detail = "shut down";
      break;
    case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
      ev.kind = kind::stopped;
      ev.detail = "destroyed";
      break;
    case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
      ev.kind = kind::crashed;
      ev.detail = "crashed";
      break;
    case VIR_DOMAIN_EVENT_STOPPED_FAILED:
      ev.kind = kind::stopped;
      ev.detail = "emulator failed";
      break;
    default:
      ev.kind = kind::stopped;
      ev.detail = "stopped (detail " + std::to_string(detail) + ")";
    }
    return ev;
  default:
    return std::nullopt;
  }
}

int on_lifecycle_event(virConnectPtr, virDomainPtr dom, int event, int detail,
                       void* opaque) {
  auto ev = translate(event, detail);
  if (!ev) {
    return 0;
  }
  if (auto* name = virDomainGetName(dom)) {
    ev->domain_name = name;
  }
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) == 0) {
    ev->domain_uuid = uuid;
  }
  (*static_cast<connection::lifecycle_callback*>(opaque))(*ev);
  return 0;
}

using close_callback = std::function<void(const std::string&)>;

void on_close_event(virConnectPtr, int reason, void* opaque) {
  std::string why;
  switch (reason) {
  case VIR_CONNECT_CLOSE_REASON_ERROR:
    why = "I/O error";
    break;
  case VIR_CONNECT_CLOSE_REASON_EOF:
    why = "end of file (libvirtd gone?)";
    break;
  case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
    why = "keepalive timeout";
    break;
  default:
    why = "closed by client";
  }
  (*static_cast<close_callback*>(opaque))(why);
}

} // namespace

failure last_error(const std::string& what) {
  auto* err = virGetLastError();
  std::string message = err != nullptr && err->message != nullptr
                          ? err->message
                          : "unknown libvirt error";
  auto code = msg::errc::internal;
  if (err != nullptr) {
    switch (err->code) {
    case VIR_ERR_NO_DOMAIN:
      code = msg::errc::not_found;
      break;
    case VIR_ERR_DOM_EXIST:
      code = msg::errc::exists;
      break;
    case VIR_ERR_OPERATION_INVALID:
      code = msg::errc::wrong_state;
      break;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_UNAVAILABLE:
      code = msg::errc::unavailable;
      break;
    default:
      break;
    }
  }
  return fail(code, what + ": " + message);
}

// -- domain ------------------------------------------------------------------

void domain::free_fn::operator()(_virDomain* p) const noexcept {
  virDomainFree(p);
}

domain::domain(_virDomain* ptr) noexcept : ptr_(ptr) {
  // nop
}

std::string domain::name() const {
  auto* name = virDomainGetName(ptr_.get());
  return name == nullptr ? std::string{} : name;
}

std::string domain::uuid() const {
  char buf[VIR_UUID_STRING_BUFLEN];
  return virDomainGetUUIDString(ptr_.get(), buf) == 0 ? buf : "";
}

bool domain::is_active() const {
  return virDomainIsActive(ptr_.get()) == 1;
}

result<void> domain::destroy() {
  if (virDomainDestroy(ptr_.get()) < 0) {
    return last_error("virDomainDestroy " + name());
  }
  return {};
}

result<void> domain::shutdown() {
  if (virDomainShutdown(ptr_.get()) < 0) {
    return last_error("virDomainShutdown " + name());
  }
  return {};
}

result<std::string> domain::xml_desc() const {
  auto* xml = virDomainGetXMLDesc(ptr_.get(), 0);
  if (xml == nullptr) {
    return last_error("virDomainGetXMLDesc " + name());
  }
  std::string result{xml};
  free(xml);
  return result;
}

result<std::string> domain::metadata(const std::string& ns_uri) const {
  auto* xml = virDomainGetMetadata(ptr_.get(), VIR_DOMAIN_METADATA_ELEMENT,
                                   ns_uri.c_str(), VIR_DOMAIN_AFFECT_LIVE);
  if (xml == nullptr) {
    return last_error("virDomainGetMetadata " + name());
  }
  std::string result{xml};
  free(xml);
  return result;
}

// -- connection --------------------------------------------------------------

void connection::free_fn::operator()(_virConnect* p) const noexcept {
  virConnectClose(p);
}

connection::connection(_virConnect* ptr, std::string uri)
    : ptr_(ptr), uri_(std::move(uri)) {
  // nop
}

connection::~connection() {
  drop_callbacks();
}

void connection::drop_callbacks() {
  if (!ptr_) {
    return; // moved from
  }
  for (auto id : callback_ids_) {
    virConnectDomainEventDeregisterAny(ptr_.get(), id);
  }
  callback_ids_.clear();
  if (close_registered_) {
    virConnectUnregisterCloseCallback(ptr_.get(), on_close_event);
    close_registered_ = false;
  }
}

result<connection> connection::open(const std::string& uri) {
  event_loop::instance();
  auto* ptr = virConnectOpen(uri.c_str());
  if (ptr == nullptr) {
    return last_error("cannot open " + uri);
  }
  // Drivers without keepalive (embed, test) refuse it: that is fine.
  if (virConnectSetKeepAlive(ptr, 5, 3) < 0) {
    virResetLastError();
  }
  return connection{ptr, uri};
}

result<domain> connection::create(const std::string& xml) {
  auto* dom = virDomainCreateXML(ptr_.get(), xml.c_str(), 0);
  if (dom == nullptr) {
    return last_error("virDomainCreateXML");
  }
  return domain{dom};
}

result<std::optional<domain>> connection::lookup(const std::string& name) {
  auto* dom = virDomainLookupByName(ptr_.get(), name.c_str());
  if (dom == nullptr) {
    auto* err = virGetLastError();
    if (err != nullptr && err->code == VIR_ERR_NO_DOMAIN) {
      virResetLastError();
      return std::optional<domain>{};
    }
    return last_error("virDomainLookupByName " + name);
  }
  return std::optional<domain>{domain{dom}};
}

result<std::vector<domain>> connection::list_active() {
  virDomainPtr* doms = nullptr;
  auto n = virConnectListAllDomains(ptr_.get(), &doms,
                                    VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0) {
    return last_error("virConnectListAllDomains");
  }
  std::vector<domain> result;
  for (int i = 0; i < n; ++i) {
    result.emplace_back(doms[i]);
  }
  free(doms);
  return result;
}

result<std::vector<std::string>> connection::network_names() {
  virNetworkPtr* nets = nullptr;
  auto n = virConnectListAllNetworks(ptr_.get(), &nets, 0);
  if (n < 0) {
    return last_error("virConnectListAllNetworks");
  }
  std::vector<std::string> result;
  for (int i = 0; i < n; ++i) {
    if (const char* name = virNetworkGetName(nets[i])) {
      result.emplace_back(name);
    }
    virNetworkFree(nets[i]);
  }
  free(nets);
  return result;
}

namespace {

result<xml::document> network_definition(virConnectPtr conn,
                                         const std::string& name) {
  auto* net = virNetworkLookupByName(conn, name.c_str());
  if (net == nullptr) {
    return last_error("virNetworkLookupByName");
  }
  char* text = virNetworkGetXMLDesc(net, 0);
  virNetworkFree(net);
  if (text == nullptr) {
    return last_error("virNetworkGetXMLDesc");
  }
  auto doc = xml::document::parse(text, "network " + name);
  free(text);
  return doc;
}

} // namespace

result<std::vector<std::string>>
connection::dhcp_leases(const std::string& network, const std::string& mac) {
  auto doc = network_definition(ptr_.get(), network);
  if (!doc) {
    return doc.failure_value();
  }
  auto ips = doc->root().find_all("ip");
  if (std::none_of(ips.begin(), ips.end(),
                   [](auto& ip) { return ip.find("dhcp") != nullptr; })) {
    return failure{msg::errc::not_found,
                   "network " + network + " hands out no addresses by DHCP"};
  }
  auto* net = virNetworkLookupByName(ptr_.get(), network.c_str());
  if (net == nullptr) {
    return last_error("virNetworkLookupByName");
  }
  virNetworkDHCPLeasePtr* leases = nullptr;
  auto n = virNetworkGetDHCPLeases(net, mac.c_str(), &leases, 0);
  virNetworkFree(net);
  if (n < 0) {
    return last_error("virNetworkGetDHCPLeases " + network);
  }
  std::vector<std::string> result;
  for (int i = 0; i < n; ++i) {
    if (leases[i]->ipaddr != nullptr) {
      result.emplace_back(leases[i]->ipaddr);
    }
    virNetworkDHCPLeaseFree(leases[i]);
  }
  free(leases);
  return result;
}

result<std::vector<std::string>>
connection::network_subnets(const std::string& name) {
  auto doc = network_definition(ptr_.get(), name);
  if (!doc) {
    return doc.failure_value();
  }
  std::vector<std::string> result;
  for (auto& ip : doc->root().find_all("ip")) {
    auto address = ip.attribute("address");
    auto prefix = ip.attribute("prefix");
    in6_addr a6{};
    if (ip.attribute("family") == "ipv6") {
      if (inet_pton(AF_INET6, address.c_str(), &a6) == 1 && !prefix.empty()) {
        result.push_back(address + "/" + prefix);
      }
      continue;
    }
    in_addr a{};
    if (inet_pton(AF_INET, address.c_str(), &a) != 1) {
      continue;
    }
    if (prefix.empty()) {
      in_addr mask{};
      if (inet_pton(AF_INET, ip.attribute("netmask").c_str(), &mask) != 1) {
        continue;
      }
      prefix = std::to_string(std::bitset<32>(ntohl(mask.s_addr)).count());
    }
    result.push_back(address + "/" + prefix);
  }
  return result;
}

void connection::close() {
  drop_callbacks();
  ptr_.reset();
}

result<void> connection::probe_capabilities(const std::string& virt_type) {
  auto* xml = virConnectGetDomainCapabilities(ptr_.get(), nullptr, "x86_64",
                                              nullptr, virt_type.c_str(), 0);
  if (xml == nullptr) {
    return last_error("virConnectGetDomainCapabilities");
  }
  free(xml);
  return {};
}

bool connection::alive() const {
  return ptr_ && virConnectIsAlive(ptr_.get()) == 1;
}

result<void> connection::on_lifecycle(lifecycle_callback cb) {
  auto* opaque = new lifecycle_callback(std::move(cb));
  auto id = virConnectDomainEventRegisterAny(
    ptr_.get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
    VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle_event), opaque,
    [](void* p) { delete static_cast<lifecycle_callback*>(p); });
  if (id < 0) {
    delete opaque;
    return last_error("virConnectDomainEventRegisterAny");
  }
  callback_ids_.push_back(id);
  return {};
}

result<void> connection::on_close(std::function<void(const std::string&)> cb) {
  auto* opaque = new close_callback(std::move(cb));
  if (virConnectRegisterCloseCallback(
        ptr_.get(), on_close_event, opaque,
        [](void* p) { delete static_cast<close_callback*>(p); })
      < 0) {
    delete opaque;
    return last_error("virConnectRegisterCloseCallback");
  }
  close_registered_ = true;
  return {};
}

} // namespace pcloud::runtime::virt
