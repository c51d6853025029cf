#include "guest/agent/agent.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/duration.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/receiver_options.hpp>
#include <proton/transport.hpp>

#include "guest/link/proof.hpp"

namespace pcloud::guest {

namespace {

bool same_definition(const wire::resource_definition& x,
                     const wire::resource_definition& y) {
  return x.name == y.name && x.resource_class == y.resource_class
         && x.type == y.type && x.parameters == y.parameters
         && x.monitor_interval_ms == y.monitor_interval_ms
         && x.monitor_timeout_ms == y.monitor_timeout_ms && x.probe == y.probe;
}

} // namespace

void agent_log(const std::string& text) {
  std::fprintf(stderr, "pcloud-agent: %s\n", text.c_str());
}

std::string read_boot_id() {
  std::ifstream in{"/proc/sys/kernel/random/boot_id"};
  std::string id;
  std::getline(in, id);
  return id;
}

std::vector<std::string> local_addresses() {
  std::vector<std::string> result;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return result;
  }
  for (auto* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    char text[INET6_ADDRSTRLEN] = {};
    auto family = a->ifa_addr->sa_family;
    if (family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr,
                text, sizeof(text));
    } else if (family == AF_INET6) {
      inet_ntop(AF_INET6,
                &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, text,
                sizeof(text));
    } else {
      continue;
    }
    result.emplace_back(text);
    if (result.size() == wire::limits::max_addresses) {
      break;
    }
  }
  freeifaddrs(list);
  return result;
}

agent::agent(event_loop& loop, agent_options opts)
    : loop_(loop), opts_(std::move(opts)),
      reconnect_delay_(opts_.reconnect_min), reconnect_timer_(loop),
      tick_timer_(loop) {
  // nop
}

agent::~agent() {
  if (stream_) {
    loop_.unwatch(stream_->fd());
  }
  if (netlink_) {
    loop_.unwatch(netlink_.get());
  }
}

void agent::start() {
  watch_addresses();
  connect();
}

void agent::watch_addresses() {
  netlink_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          NETLINK_ROUTE));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (!netlink_
      || ::bind(netlink_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa))
           != 0) {
    agent_log(std::string{"address changes are not watched: "}
              + std::strerror(errno));
    netlink_.reset();
    return;
  }
  loop_.watch(netlink_.get(), EPOLLIN,
              [this](uint32_t) { on_address_event(); });
}

void agent::on_address_event() {
  // The events only say that something changed: read the set anew.
  char buf[8192];
  while (::recv(netlink_.get(), buf, sizeof(buf), 0) > 0) {
  }
  report_addresses();
}

void agent::report_addresses() {
  if (!configured_) {
    return; // the next hello, or the configure it brings, tells
  }
  auto now = local_addresses();
  if (now != addresses_) {
    addresses_ = now;
    send(wire::encode(wire::address_change{now}));
  }
}

void agent::connect() {
  std::string error;
  posix::unique_fd fd{opts_.open(error)};
  if (!fd) {
    if (error != last_open_error_) {
      agent_log("cannot open the host link: " + error + " (retrying)");
      last_open_error_ = error;
    }
    schedule_reconnect();
    return;
  }
  last_open_error_.clear();
  proton::connection_options opts;
  opts.handler(*this)
    .container_id("pcloud-agent")
    .sasl_enabled(false)
    .max_frame_size(wire::limits::max_message_bytes)
    .idle_timeout(proton::duration(opts_.idle_timeout.count()));
  stream_ = std::make_unique<amqp_stream>(std::move(fd), opts, false);
  watch_stream();
}

void agent::watch_stream() {
  if (!stream_) {
    return;
  }
  if (stream_->finished()) {
    link_down("link closed");
    return;
  }
  uint32_t events = EPOLLIN | (stream_->wants_write() ? EPOLLOUT : 0u);
  loop_.watch(stream_->fd(), events, [this](uint32_t ev) {
    if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
      stream_->on_readable();
    } else {
      stream_->process();
    }
    on_tick();
  });
}

void agent::on_tick() {
  if (!stream_) {
    return;
  }
  auto next = stream_->tick();
  watch_stream();
  if (stream_ && next > 0) {
    auto delay = std::chrono::milliseconds{next - proton_now_ms()};
    tick_timer_.set(std::max(delay, std::chrono::milliseconds{1}),
                    [this] { on_tick(); });
  }
}

void agent::link_down(const std::string& why) {
  if (!stream_) {
    return;
  }
  if (configured_) {
    agent_log("host link down: " + why);
  }
  loop_.unwatch(stream_->fd());
  tick_timer_.cancel();
  sender_ = proton::sender{};
  outbox_.clear();
  configured_ = false;
  // Destroyed outside of proton's dispatch (we may be inside it).
  loop_.after(std::chrono::milliseconds{0},
              [s = std::shared_ptr<amqp_stream>(std::move(stream_))] {});
  schedule_reconnect();
}

void agent::link_down_later(const std::string& why) {
  // Not inside proton's dispatch; and only for this stream, should a new
  // one exist by then.
  loop_.after(std::chrono::milliseconds{0}, [this, why, s = stream_.get()] {
    if (stream_.get() == s) {
      link_down(why);
    }
  });
}

void agent::schedule_reconnect() {
  auto delay = reconnect_delay_;
  reconnect_delay_ = std::min(reconnect_delay_ * 2, opts_.reconnect_max);
  reconnect_timer_.set(delay, [this] { connect(); });
}

void agent::on_connection_open(proton::connection& c) {
  c.open_sender("pcloud.host");
  c.open_receiver("pcloud.agent", proton::receiver_options().credit_window(64));
  wire::hello h;
  h.assembly = opts_.assembly;
  h.agent_version = opts_.agent_version;
  h.boot_id = opts_.boot_id;
  addresses_ = local_addresses();
  h.addresses = addresses_;
  distrusted_ = false;
  host_proven_ = opts_.secret.empty();
  nonce_ = host_proven_ ? std::string{} : wire::make_nonce();
  h.nonce = nonce_;
  outbox_.push_back(wire::encode(h));
}

void agent::on_sendable(proton::sender& s) {
  sender_ = s;
  flush_outbox();
}

void agent::flush_outbox() {
  while (!outbox_.empty() && sender_ && sender_.active()
         && sender_.credit() > 0) {
    sender_.send(outbox_.front());
    outbox_.pop_front();
  }
}

void agent::send(proton::message m) {
  outbox_.push_back(std::move(m));
  flush_outbox();
  if (stream_ && !in_event_) {
    // Outside proton's dispatch (a resource event): write it out now.
    stream_->process();
    watch_stream();
  }
}

void agent::on_message(proton::delivery&, proton::message& m) {
  auto msg = wire::decode_from_host(m);
  if (!msg.ok()) {
    agent_log("ignoring a message from the host: " + msg.error);
    return;
  }
  if (distrusted_) {
    return;
  }
  if (!host_proven_ && !std::holds_alternative<wire::challenge>(msg.value)) {
    distrust("the host sent a message before it proved this VM's secret");
    return;
  }
  in_event_ = true;
  std::visit([this](auto& x) { handle(x); }, msg.value);
  in_event_ = false;
}

void agent::distrust(const std::string& why) {
  distrusted_ = true;
  if (why != last_distrust_) {
    // Once per reason: the agent retries every half second.
    agent_log(why + ": link closed, nothing taken (retrying)");
    last_distrust_ = why;
  }
  link_down_later(why);
}

void agent::handle(const wire::challenge& c) {
  if (host_proven_) {
    distrust("the host challenged twice, or on a channel");
    return;
  }
  if (!wire::same_proof(c.proof,
                        wire::prove(wire::prover::host, opts_.secret,
                                    opts_.assembly, nonce_, c.nonce))) {
    distrust("the host did not prove this VM's secret (not pcloudd, or "
             "pcloudd runs another incarnation of this VM)");
    return;
  }
  host_proven_ = true;
  last_distrust_.clear();
  send(wire::encode(wire::proof{wire::prove(wire::prover::agent, opts_.secret,
                                            opts_.assembly, nonce_, c.nonce)}));
}

void agent::on_transport_error(proton::transport& t) {
  auto why = t.error().description();
  link_down_later(why.empty() ? "transport closed" : why);
}

void agent::on_connection_close(proton::connection& c) {
  auto why = c.error().description();
  link_down_later(why.empty() ? "the host closed the connection" : why);
}

void agent::on_error(const proton::error_condition& e) {
  auto why = e.description().empty() ? e.name() : e.description();
  link_down_later("link error: " + why);
}

void agent::handle(const wire::configure& cfg) {
  if (!opts_.assembly.empty() && cfg.assembly != opts_.assembly) {
    agent_log("the host configured assembly '" + cfg.assembly
              + "' but this guest is '" + opts_.assembly + "'; ignored");
    return;
  }
  if (!configured_) {
    agent_log("host link up, " + std::to_string(cfg.resources.size())
              + " resource(s)");
  }
  configured_ = true;
  reconnect_delay_ = opts_.reconnect_min;
  report_addresses(); // any change between the hello and now
  std::map<std::string, const wire::resource_definition*> wanted;
  for (auto& def : cfg.resources) {
    wanted[def.name] = &def;
  }
  for (auto i = resources_.begin(); i != resources_.end();) {
    auto w = wanted.find(i->first);
    if (w == wanted.end()
        || !same_definition(*w->second, i->second.resource->definition())) {
      retire(std::move(i->second.resource));
      i = resources_.erase(i);
    } else {
      ++i;
    }
  }
  for (auto& def : cfg.resources) {
    auto existing = resources_.find(def.name);
    if (existing != resources_.end()) {
      // Kept running while the host was away: tell it how it is.
      existing->second.resource->report_again();
      continue;
    }
    auto name = def.name;
    auto serial = next_serial_++;
    std::string error;
    auto r = make_resource(
      loop_, def,
      [this, name, serial](const std::string& condition,
                           const std::string& cause) {
        auto i = resources_.find(name);
        if (i != resources_.end() && i->second.serial == serial) {
          report(name, condition, cause);
        }
      },
      [this, name, serial](const wire::probe_result& result) {
        auto i = resources_.find(name);
        if (i != resources_.end() && i->second.serial == serial
            && configured_) {
          send(wire::encode(result));
        }
      },
      error, opts_.ocf_root);
    if (!r) {
      agent_log("resource " + name + ": " + error);
      report(name, "start_failed", error);
      continue;
    }
    auto& e = resources_[name] = entry{serial, std::move(r)};
    e.resource->probe();
  }
}

void agent::retire(std::unique_ptr<managed_resource> r) {
  r->stop();
  retiring_.push_back(std::move(r));
  drop_idle_retired();
}

void agent::drop_idle_retired() {
  for (auto i = retiring_.begin(); i != retiring_.end();) {
    i = (*i)->idle() ? retiring_.erase(i) : i + 1;
  }
  if (!retiring_.empty()) {
    // Stop operations end on later events: look again shortly.
    loop_.after(std::chrono::milliseconds{100},
                [this] { drop_idle_retired(); });
  }
}

void agent::handle(const wire::command& cmd) {
  auto i = resources_.find(cmd.resource);
  if (i == resources_.end()) {
    agent_log("command " + cmd.operation + " for unknown resource "
              + cmd.resource + "; ignored");
    return;
  }
  auto& r = *i->second.resource;
  if (cmd.operation == "start") {
    r.start();
  } else if (cmd.operation == "stop") {
    r.stop();
  } else if (cmd.operation == "restart") {
    r.restart();
  } else {
    r.monitor();
  }
}

void agent::report(const std::string& resource, const std::string& condition,
                   const std::string& cause) {
  if (!configured_) {
    return; // reported again after the next configure
  }
  send(wire::encode(wire::resource_state{resource, condition, cause}));
}

} // namespace pcloud::guest
