// runtime/guest_gateway.cpp -- the guest gateway actor and the I/O thread
// that holds every agent link: attaching and detaching assemblies, reaching
// their channel sockets, accepting agents over TCP until they prove
// an assembly, and closing links. What one link says and may say is in
// host_link.cpp.
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
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include <caf/all.hpp>
#include <proton/connection_options.hpp>
#include <proton/duration.hpp>
#include <spdlog/spdlog.h>

#include "guest/link/amqp_stream.hpp"
#include "guest/link/event_loop.hpp"
#include "guest/link/wire.hpp"
#include "runtime/host_link.hpp"
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

namespace {

using detail::host_link;

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
      make_room(text);
      auto link = std::make_unique<host_link>(
        msg::domain_info{}, std::vector<msg::resource_spec>{},
        msg::guest_listener_actor{}, opts_, loop_);
      auto& l = *link;
      l.peer = peer;
      l.peer_address = text;
      l.accepted = ++accepted_;
      l.secret_for = [this](const std::string& assembly) {
        auto i = links_.find(assembly);
        return i == links_.end() ? std::string{} : i->second->info.agent_secret;
      };
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

  /// Keeps the waiting TCP connections within their limits before one more
  /// from `address` joins them: the oldest of that address, or of all, is
  /// closed.
  void make_room(const std::string& address) {
    host_link* oldest = nullptr;
    host_link* oldest_here = nullptr;
    size_t here = 0;
    for (auto& [l, owned] : pending_) {
      if (oldest == nullptr || l->accepted < oldest->accepted) {
        oldest = l;
      }
      if (l->peer_address == address) {
        ++here;
        if (oldest_here == nullptr || l->accepted < oldest_here->accepted) {
          oldest_here = l;
        }
      }
    }
    if (here >= opts_.max_pending_per_peer && oldest_here != nullptr) {
      close(*oldest_here,
            "made room: " + std::to_string(here)
              + " connections from its address wait for their hello",
            false);
    } else if (pending_.size() >= opts_.max_pending && oldest != nullptr) {
      close(*oldest,
            "made room: " + std::to_string(pending_.size())
              + " connections wait for their hello",
            false);
    }
  }

  /// A TCP agent that proved the secret of `h.assembly`'s incarnation
  /// (host_link.cpp): the link of that attached assembly, unless its agent
  /// is connected already.
  bool claim(host_link& l, const wire::hello& h, std::string& why) {
    auto i = links_.find(h.assembly);
    if (i == links_.end()) {
      why = "assembly '" + h.assembly + "' stopped while its agent proved it";
      return false;
    }
    auto& attached = *i->second;
    if (!attached.info.agent_channel.empty()) {
      // Its agent talks through the VM's own channel: a TCP peer claiming
      // it (at a restart, before the channel agent speaks) is an impostor.
      why = "assembly '" + h.assembly
            + "' uses the channel: its agent does not come over TCP";
      return false;
    }
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
  /// TCP connections accepted so far (their order, for make_room).
  uint64_t accepted_ = 0;
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
