#include "runtime/guest_gateway.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <caf/all.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/delivery.hpp>
#include <proton/duration.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender.hpp>
#include <proton/transport.hpp>
#include <spdlog/spdlog.h>

#include "guest/link/amqp_stream.hpp"
#include "guest/link/event_loop.hpp"
#include "guest/link/wire.hpp"
#include "runtime/agent_configuration.hpp"
#include "runtime/agent_secret.hpp"
#include "runtime/log_limiter.hpp"
#include "runtime/posix/unique_fd.hpp"

namespace pcloud::runtime {

result<int> connect_channel_socket(const msg::domain_info& info) {
  if (info.agent_channel.empty()) {
    return fail("domain " + info.domain_name + " has no agent channel");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (info.agent_channel.size() >= sizeof(addr.sun_path)) {
    return fail("agent channel path too long: " + info.agent_channel);
  }
  std::strcpy(addr.sun_path, info.agent_channel.c_str());
  posix::unique_fd fd{
    ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (!fd) {
    return fail(std::string{"socket: "} + std::strerror(errno));
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
      != 0) {
    return fail(info.agent_channel + ": " + std::strerror(errno));
  }
  return fd.release();
}

result<int> listen_tcp(const std::string& address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return fail("agent listener: not an IPv4 address: " + address);
  }
  posix::unique_fd fd{
    ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) {
    return fail(std::string{"agent listener: socket: "} + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0
      || ::listen(fd.get(), 64) != 0) {
    auto err = errno;
    return fail("agent listener on " + address + ":" + std::to_string(port)
                + ": " + std::strerror(err));
  }
  return fd.release();
}

uint16_t bound_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return 0;
  }
  return ntohs(sa.sin_port);
}

namespace {

using clock_type = std::chrono::steady_clock;

/// Allows `rate` per second with bursts up to `capacity`.
class token_bucket {
public:
  token_bucket(double rate, double capacity)
      : rate_(rate), capacity_(capacity), tokens_(capacity) {
    // nop
  }

  /// False once the peer went over its budget.
  bool take(double n) {
    auto now = clock_type::now();
    std::chrono::duration<double> elapsed = now - last_;
    last_ = now;
    tokens_ = std::min(capacity_, tokens_ + elapsed.count() * rate_) - n;
    return tokens_ >= 0;
  }

private:
  double rate_;
  double capacity_;
  double tokens_;
  clock_type::time_point last_ = clock_type::now();
};

msg::resource_condition condition_of(const std::string& x) {
  if (x == "running") {
    return msg::resource_condition::running;
  }
  if (x == "stopped") {
    return msg::resource_condition::stopped;
  }
  if (x == "start_failed") {
    return msg::resource_condition::start_failed;
  }
  return msg::resource_condition::failed;
}

/// The host end of one assembly's agent link.
class host_link : public proton::messaging_handler {
public:
  host_link(msg::domain_info info, const std::vector<msg::resource_spec>& specs,
            msg::guest_listener_actor listener,
            const guest_gateway_options& opts, guest::event_loop& loop)
      : info(std::move(info)), listener(std::move(listener)), tick_timer(loop),
        retry_timer(loop), bytes_(static_cast<double>(opts.bytes_per_second),
                                  static_cast<double>(opts.byte_burst)),
        messages_(static_cast<double>(opts.messages_per_second),
                  static_cast<double>(opts.message_burst)) {
    config_ = configuration_for(this->info.assembly, specs);
    for (auto& s : specs) {
      names_.insert(s.name);
    }
  }

  /// Takes over an attached assembly's identity: a TCP connection whose
  /// hello proved it is that assembly's agent.
  void adopt(const host_link& attached) {
    info = attached.info;
    listener = attached.listener;
    config_ = attached.config_;
    names_ = attached.names_;
  }

  /// Counts bytes read against the byte budget.
  void account(size_t n) {
    if (n > 0 && !bytes_.take(static_cast<double>(n))) {
      violation("flooding (more than the byte budget per second)");
    }
  }

  void send(proton::message m) {
    outbox_.push_back(std::move(m));
    flush();
  }

  msg::domain_info info;
  msg::guest_listener_actor listener;
  std::unique_ptr<guest::amqp_stream> stream;
  /// Why the link is over; the service closes it after the current I/O.
  std::string ended;
  bool violated = false;
  bool hello_seen = false;
  bool connect_failure_logged = false;
  /// Set while this is a TCP connection that has not proven its assembly:
  /// checks a hello and, when it holds, makes this the assembly's link.
  std::function<bool(const wire::hello&, std::string& why)> claim;
  /// Where a TCP connection came from (ADDRESS:PORT and ADDRESS), for the
  /// log.
  std::string peer;
  std::string peer_address;
  guest::scoped_timer tick_timer;
  guest::scoped_timer retry_timer;

private:
  void on_connection_open(proton::connection& c) override {
    if (!c.active()) {
      c.open();
    }
  }

  void on_receiver_open(proton::receiver& r) override {
    if (!r.active()) {
      r.open(proton::receiver_options().credit_window(64));
    }
  }

  void on_sender_open(proton::sender& s) override {
    if (!s.active()) {
      s.open();
    }
    sender_ = s;
  }

  void on_sendable(proton::sender& s) override {
    sender_ = s;
    flush();
  }

  void on_message(proton::delivery&, proton::message& m) override;

  void on_transport_error(proton::transport& t) override {
    end_with(t.error());
  }

  void on_connection_close(proton::connection& c) override {
    end_with(c.error());
  }

  /// proton's default throws; an error on any endpoint ends the link.
  void on_error(const proton::error_condition& e) override { end_with(e); }

  void end_with(const proton::error_condition& e) {
    if (!ended.empty()) {
      return;
    }
    auto what = e.description();
    if (what.find("idle-timeout") != std::string::npos
        || e.name() == "amqp:resource-limit-exceeded") {
      ended = "guest unresponsive: no traffic on the agent link within the "
              "idle timeout";
    } else if (e.name() == "eof") {
      ended = "agent channel closed";
    } else {
      ended = "agent link failed: " + (what.empty() ? e.name() : what);
    }
  }

  void violation(const std::string& why) {
    if (ended.empty()) {
      ended = "protocol violation: " + why;
      violated = true;
    }
  }

  void flush() {
    while (!outbox_.empty() && sender_ && sender_.active()
           && sender_.credit() > 0) {
      sender_.send(outbox_.front());
      outbox_.pop_front();
    }
  }

  void on_hello(const wire::hello& h);
  void on_state(const wire::resource_state& s);
  void on_addresses(const wire::address_change& x);

  token_bucket bytes_;
  token_bucket messages_;
  wire::configure config_;
  std::set<std::string> names_;
  proton::sender sender_;
  std::deque<proton::message> outbox_;
};

void host_link::on_message(proton::delivery&, proton::message& m) {
  if (!ended.empty()) {
    return;
  }
  if (!messages_.take(1)) {
    violation("flooding (more than the message budget per second)");
    return;
  }
  auto decoded = wire::decode_from_agent(m);
  if (!decoded.ok()) {
    violation(decoded.error);
    return;
  }
  if (auto* h = std::get_if<wire::hello>(&decoded.value)) {
    on_hello(*h);
  } else if (auto* a = std::get_if<wire::address_change>(&decoded.value)) {
    on_addresses(*a);
  } else {
    on_state(std::get<wire::resource_state>(decoded.value));
  }
}

void host_link::on_addresses(const wire::address_change& x) {
  if (!hello_seen) {
    violation("addresses before hello");
    return;
  }
  spdlog::debug("guest gateway: {}: guest addresses now {}", info.assembly,
                fmt::join(x.addresses, " "));
  caf::anon_send(listener, msg::agent_addresses{info.assembly, info.incarnation,
                                                x.addresses});
}

void host_link::on_hello(const wire::hello& h) {
  if (hello_seen) {
    violation("a second hello on the same connection");
    return;
  }
  if (claim) {
    // TCP: the connection says nothing; the hello names its assembly and
    // the secret proves it.
    std::string why;
    auto claimed = claim(h, why);
    if (!claimed) {
      violation(why);
      return;
    }
    claim = nullptr;
  } else if (!h.assembly.empty() && h.assembly != info.assembly) {
    // A guest speaks for its own assembly only: the link says which.
    violation("the agent claims to be assembly '" + h.assembly
              + "' on the link of '" + info.assembly + "'");
    return;
  }
  hello_seen = true;
  spdlog::info("guest gateway: {}: agent {} says hello (boot {}{}{})",
               info.assembly, h.agent_version, h.boot_id,
               h.addresses.empty() ? "" : ", addresses ",
               fmt::join(h.addresses, " "));
  send(wire::encode(config_));
  caf::anon_send(listener,
                 msg::agent_hello{info.assembly, info.incarnation, h.version,
                                  h.agent_version, h.boot_id, h.addresses});
}

void host_link::on_state(const wire::resource_state& s) {
  if (!hello_seen) {
    violation("a resource report before hello");
    return;
  }
  if (names_.count(s.resource) == 0) {
    violation("report for resource '" + s.resource
              + "', which is not one of assembly " + info.assembly + "'s");
    return;
  }
  spdlog::debug("guest gateway: {}/{}: {} ({})", info.assembly, s.resource,
                s.condition, s.cause);
  caf::anon_send(
    listener, msg::resource_report{info.assembly, info.incarnation, s.resource,
                                   condition_of(s.condition), s.cause});
}

/// Owns the I/O thread and every link. Public members are thread-safe (they
/// post to the loop); everything else runs on the loop's thread.
class link_service {
public:
  explicit link_service(guest_gateway_options opts)
      : opts_(std::move(opts)), tcp_listener_(opts_.tcp_listener) {
    if (tcp_listener_) {
      loop_.post([this] {
        loop_.watch(tcp_listener_.get(), EPOLLIN,
                    [this](uint32_t) { accept(); });
      });
    }
    thread_ = std::thread{[this] { loop_.run(); }};
  }

  ~link_service() {
    loop_.post([this] {
      auto unwatch = [this](host_link& l) {
        if (l.stream) {
          loop_.unwatch(l.stream->fd());
        }
      };
      for (auto& kv : links_) {
        unwatch(*kv.second);
      }
      for (auto& kv : pending_) {
        unwatch(*kv.second);
      }
      links_.clear();
      pending_.clear();
      if (tcp_listener_) {
        loop_.unwatch(tcp_listener_.get());
        tcp_listener_.reset();
      }
    });
    loop_.stop();
    thread_.join();
  }

  void attach(msg::domain_info info, std::vector<msg::resource_spec> specs,
              msg::guest_listener_actor listener) {
    loop_.post([this, info = std::move(info), specs = std::move(specs),
                listener = std::move(listener)]() mutable {
      auto name = info.assembly;
      if (auto i = links_.find(name); i != links_.end()) {
        close(*i->second, "replaced by a new attach", false);
      }
      auto& l = links_[name] = std::make_unique<host_link>(
        std::move(info), specs, std::move(listener), opts_, loop_);
      connect(*l);
    });
  }

  void detach(const std::string& name) {
    loop_.post([this, name] {
      if (auto i = links_.find(name); i != links_.end()) {
        close(*i->second, "detached", false);
      }
    });
  }

  void command(const msg::resource_command& cmd) {
    loop_.post([this, cmd] {
      auto i = links_.find(cmd.assembly);
      if (i == links_.end() || !i->second->hello_seen
          || !i->second->ended.empty()) {
        spdlog::debug("guest gateway: {}/{}: {} dropped, no agent link",
                      cmd.assembly, cmd.resource, to_string(cmd.operation));
        return;
      }
      auto& l = *i->second;
      l.send(wire::encode(
        wire::command{cmd.resource, msg::to_string(cmd.operation)}));
      after_io(l);
    });
  }

private:
  void connect(host_link& l) {
    if (l.info.agent_channel.empty()) {
      // A domain without the channel: its agent comes over TCP (claim).
      spdlog::debug("guest gateway: {}: waits for its agent over TCP",
                    l.info.assembly);
      return;
    }
    auto fd = opts_.connect(l.info);
    if (!fd) {
      if (!l.connect_failure_logged) {
        spdlog::warn("guest gateway: {}: cannot reach the agent channel: {} "
                     "(retrying)",
                     l.info.assembly, fd.error());
        l.connect_failure_logged = true;
      }
      l.retry_timer.set(opts_.connect_retry, [this, &l] { connect(l); });
      return;
    }
    start_stream(l, posix::unique_fd{*fd});
    spdlog::debug("guest gateway: {}: connected to {}", l.info.assembly,
                  l.info.agent_channel);
    after_io(l);
  }

  /// Takes every waiting TCP connection; each must say hello in time.
  void accept() {
    for (;;) {
      sockaddr_in sa{};
      socklen_t len = sizeof(sa);
      posix::unique_fd fd{::accept4(tcp_listener_.get(),
                                    reinterpret_cast<sockaddr*>(&sa), &len,
                                    SOCK_NONBLOCK | SOCK_CLOEXEC)};
      if (!fd) {
        return; // EAGAIN: all taken (or a transient error: the next wake-up)
      }
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &sa.sin_addr, text, sizeof(text));
      auto peer = std::string{text} + ":" + std::to_string(ntohs(sa.sin_port));
      if (pending_.size() >= opts_.max_pending) {
        refused(text, peer,
                "refused: " + std::to_string(pending_.size())
                  + " connections wait for their hello already");
        continue;
      }
      auto link = std::make_unique<host_link>(
        msg::domain_info{}, std::vector<msg::resource_spec>{},
        msg::guest_listener_actor{}, opts_, loop_);
      auto& l = *link;
      l.peer = peer;
      l.peer_address = text;
      l.claim = [this, &l](const wire::hello& h, std::string& why) {
        return claim(l, h, why);
      };
      pending_.emplace(&l, std::move(link));
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        opts_.hello_timeout);
      l.retry_timer.set(ms, [this, &l, ms] {
        close(l, "no hello within " + std::to_string(ms.count()) + " ms",
              false);
      });
      start_stream(l, std::move(fd));
      after_io(l);
    }
  }

  /// A TCP hello: the secret first (without it nothing about the assemblies
  /// here is revealed), then an attached assembly without an agent link.
  bool claim(host_link& l, const wire::hello& h, std::string& why) {
    if (h.assembly.empty()) {
      why = "a hello over TCP must name its assembly";
      return false;
    }
    if (!same_secret(h.secret, agent_secret(opts_.agent_key, h.assembly))) {
      why = (h.secret.empty() ? "no secret" : "a wrong secret")
            + std::string{" for assembly '"} + h.assembly + "'";
      return false;
    }
    auto i = links_.find(h.assembly);
    if (i == links_.end()) {
      why = "assembly '" + h.assembly + "' is not running here";
      return false;
    }
    auto& attached = *i->second;
    if (attached.hello_seen) {
      why = "assembly '" + h.assembly + "' has its agent connected already";
      return false;
    }
    l.adopt(attached);
    close(attached, "its agent came over TCP", false);
    auto node = pending_.extract(&l);
    links_[h.assembly] = std::move(node.mapped());
    l.retry_timer.cancel();
    spdlog::info("guest gateway: {}: agent connected over TCP from {}",
                 h.assembly, l.peer);
    return true;
  }

  void start_stream(host_link& l, posix::unique_fd fd) {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    proton::connection_options co;
    co.handler(l)
      .container_id("pcloudd")
      .sasl_enabled(false)
      .max_frame_size(wire::limits::max_message_bytes)
      .idle_timeout(proton::duration(
        duration_cast<milliseconds>(opts_.idle_timeout).count()));
    l.stream = std::make_unique<guest::amqp_stream>(std::move(fd), co, true);
  }

  /// After anything happened on a link: close it if it ended, else watch
  /// its fd for what it needs and arm its idle-timeout tick.
  void after_io(host_link& l) {
    if (!l.stream) {
      return;
    }
    if (l.ended.empty() && l.stream->finished()) {
      l.ended = "agent link closed";
    }
    if (!l.ended.empty()) {
      close(l, l.ended, true);
      return;
    }
    uint32_t events = EPOLLIN | (l.stream->wants_write() ? EPOLLOUT : 0u);
    loop_.watch(l.stream->fd(), events, [this, &l](uint32_t ev) {
      if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
        // Bounded per wake-up: a flooding guest cannot starve the others.
        l.account(l.stream->on_readable(64 * 1024));
      } else {
        l.stream->process();
      }
      tick(l);
    });
    if (auto next = l.stream->tick(); next > 0) {
      auto delay = std::chrono::milliseconds{next - guest::proton_now_ms()};
      l.tick_timer.set(std::max(delay, std::chrono::milliseconds{1}),
                       [this, &l] { tick(l); });
    }
  }

  void tick(host_link& l) {
    if (l.stream && l.ended.empty()) {
      l.stream->tick();
    }
    after_io(l);
  }

  /// Logs a refused TCP connection, except the same refusal of the same
  /// address again within a minute: a misconfigured agent reconnects every
  /// half second and must not bury the rest of the log.
  void refused(const std::string& address, const std::string& peer,
               const std::string& what) {
    size_t left_out = 0;
    if (!refusals_.admit(address + " " + what, std::chrono::steady_clock::now(),
                         left_out)) {
      return;
    }
    if (left_out == 0) {
      spdlog::warn("guest gateway: TCP connection from {} {}", peer, what);
    } else {
      spdlog::warn("guest gateway: TCP connection from {} {} (and {} more "
                   "times from {} since the last report)",
                   peer, what, left_out, address);
    }
  }

  /// Ends a link; `notify` tells its assembly the agent is gone.
  void close(host_link& l, const std::string& why, bool notify) {
    auto name = l.info.assembly;
    if (l.stream) {
      loop_.unwatch(l.stream->fd());
    }
    l.tick_timer.cancel();
    l.retry_timer.cancel();
    if (auto p = pending_.find(&l); p != pending_.end()) {
      // A TCP connection that never became an assembly's link.
      refused(l.peer_address, l.peer, "closed: " + why);
      std::shared_ptr<host_link> doomed{std::move(p->second)};
      pending_.erase(p);
      loop_.post([doomed] {});
      return;
    }
    if (notify) {
      if (l.violated) {
        spdlog::warn("guest gateway: {}: link closed: {}", name, why);
      } else {
        spdlog::info("guest gateway: {}: link closed: {}", name, why);
      }
      caf::anon_send(l.listener,
                     msg::agent_gone{name, l.info.incarnation, why});
    }
    auto i = links_.find(name);
    if (i != links_.end() && i->second.get() == &l) {
      // Destroyed once the current callback (maybe proton's) has returned.
      std::shared_ptr<host_link> doomed{std::move(i->second)};
      links_.erase(i);
      loop_.post([doomed] {});
    }
  }

  guest_gateway_options opts_;
  /// Owns opts_.tcp_listener.
  posix::unique_fd tcp_listener_;
  guest::event_loop loop_;
  std::map<std::string, std::unique_ptr<host_link>> links_;
  /// Accepted TCP connections until their hello names and proves an
  /// assembly.
  std::map<host_link*, std::unique_ptr<host_link>> pending_;
  log_limiter refusals_;
  std::thread thread_;
};

struct gateway_state {
  std::shared_ptr<link_service> service;
  static inline const char* name = "guest_gateway";
};

msg::guest_gateway_actor::behavior_type
gateway(msg::guest_gateway_actor::stateful_pointer<gateway_state> self,
        guest_gateway_options opts) {
  self->state.service = std::make_shared<link_service>(std::move(opts));
  return {
    [=](msg::attach_atom, msg::domain_info info,
        std::vector<msg::resource_spec> specs,
        msg::guest_listener_actor listener) {
      self->state.service->attach(std::move(info), std::move(specs),
                                  std::move(listener));
    },
    [=](msg::detach_atom, const std::string& assembly) {
      self->state.service->detach(assembly);
    },
    [=](const msg::resource_command& cmd) {
      self->state.service->command(cmd);
    },
  };
}

} // namespace

msg::guest_gateway_actor spawn_guest_gateway(caf::actor_system& sys,
                                             guest_gateway_options opts) {
  return sys.spawn(gateway, std::move(opts));
}

} // namespace pcloud::runtime
