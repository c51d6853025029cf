#include "runtime/control/control_door.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <map>
#include <vector>

#include <spdlog/spdlog.h>

#include "runtime/control/handshake.hpp"
#include "runtime/control/sockets.hpp"
#include "runtime/log_limiter.hpp"

namespace pcloud::runtime::control {

namespace {

using clock_type = std::chrono::steady_clock;

/// Who is on the other end: the TCP source address or the unix peer's uid.
/// Caps are counted per peer.
std::string peer_of(int fd, bool is_unix) {
  if (is_unix) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      return "uid " + std::to_string(cred.uid) + " (pid "
             + std::to_string(cred.pid) + ")";
    }
    return "unix peer";
  }
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  char text[INET_ADDRSTRLEN] = "?";
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
    ::inet_ntop(AF_INET, &sa.sin_addr, text, sizeof(text));
  }
  return text;
}

/// The part of a peer's description its caps are counted by.
std::string cap_key(const std::string& peer) {
  return peer.substr(0, peer.find(" (pid "));
}

} // namespace

struct control_door::loop {
  struct listener {
    posix::unique_fd fd;
    bool is_unix;
  };

  struct session {
    posix::unique_fd fd;
    bool via_unix;
    std::string peer;
    clock_type::time_point deadline;
    server_handshake handshake;
  };

  door_options opts;
  admit_function admit;
  std::vector<listener> listeners;
  int wake = -1;
  std::list<session> sessions; // oldest first
  std::map<std::string, size_t> pending_per_peer;
  clock_type::time_point paused_until{};
  log_limiter limiter;
  std::atomic<uint64_t> admitted{0}, refused{0}, timed_out{0}, evicted{0};

  void warn(const std::string& key, const std::string& text) {
    size_t left_out = 0;
    if (limiter.admit(key, clock_type::now(), left_out)) {
      if (left_out > 0) {
        spdlog::warn("pcloudd: control: {} ({} more like it not logged)", text,
                     left_out);
      } else {
        spdlog::warn("pcloudd: control: {}", text);
      }
    }
  }

  std::list<session>::iterator drop(std::list<session>::iterator i) {
    auto key = cap_key(i->peer);
    if (auto j = pending_per_peer.find(key);
        j != pending_per_peer.end() && --j->second == 0) {
      pending_per_peer.erase(j);
    }
    return sessions.erase(i);
  }

  /// Drops the oldest waiting session that `matches`.
  template <class Predicate>
  void evict_oldest(Predicate matches) {
    for (auto i = sessions.begin(); i != sessions.end(); ++i) {
      if (matches(*i)) {
        warn("evicted " + cap_key(i->peer),
             "too many handshakes waiting, dropped the oldest, from "
               + i->peer);
        ++evicted;
        drop(i);
        return;
      }
    }
  }

  void accept_from(listener& l, clock_type::time_point now) {
    // A bounded batch per round, so a flood cannot starve the sessions.
    for (int round = 0; round < 64; ++round) {
      posix::unique_fd fd{
        ::accept4(l.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
      if (!fd) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
            || errno == ENOMEM) {
          // Out of descriptors: stop accepting for a moment rather than
          // spin on a listener that stays readable.
          warn("accept", std::string{"cannot accept: "} + std::strerror(errno)
                           + "; pausing the listeners for 100 ms");
          paused_until = now + std::chrono::milliseconds(100);
        }
        return;
      }
      if (!l.is_unix) {
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      }
      auto peer = peer_of(fd.get(), l.is_unix);
      auto key = cap_key(peer);
      if (pending_per_peer[key] >= opts.max_pending_per_peer) {
        evict_oldest([&](const session& x) { return cap_key(x.peer) == key; });
      }
      // Counted per listener: a flood over TCP (where a local user can
      // take any 127.x.y.z as source) never pushes out root's handshake on
      // the unix socket.
      auto same_door
        = [&](const session& x) { return x.via_unix == l.is_unix; };
      if (static_cast<size_t>(
            std::count_if(sessions.begin(), sessions.end(), same_door))
          >= opts.max_pending) {
        evict_oldest(same_door);
      }
      ++pending_per_peer[key];
      sessions.push_back(session{std::move(fd), l.is_unix, std::move(peer),
                                 now + opts.handshake_timeout,
                                 server_handshake{opts.token}});
    }
  }

  /// Reads what the handshake wants and answers; false when the session
  /// is over (admitted or dropped).
  bool serve(session& s) {
    uint8_t buf[hello_size];
    while (s.handshake.wanted() > 0) {
      auto n
        = ::recv(s.fd.get(), buf, std::min(sizeof(buf), s.handshake.wanted()),
                 MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        return false; // gone before the end: nothing to say
      }
      if (n < 0) {
        break;
      }
      s.handshake.consume(buf, static_cast<size_t>(n));
    }
    if (!s.handshake.output().empty()) {
      auto& out = s.handshake.output();
      auto n = ::send(s.fd.get(), out.data(), out.size(),
                      MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      }
      s.handshake.sent(n > 0 ? static_cast<size_t>(n) : 0);
      if (!s.handshake.output().empty()) {
        return true; // the rest when the socket is writable again
      }
    }
    switch (s.handshake.current()) {
    case server_handshake::state::accepted:
      ++admitted;
      spdlog::debug("pcloudd: control: {} proved the token", s.peer);
      admit(std::move(s.fd), s.peer);
      return false;
    case server_handshake::state::refused:
      ++refused;
      warn("refused " + cap_key(s.peer),
           "refused a connection from " + s.peer + ": " + s.handshake.reason());
      return false;
    default:
      return true;
    }
  }

  void run() {
    std::vector<pollfd> fds;
    for (;;) {
      auto now = clock_type::now();
      fds.clear();
      fds.push_back({wake, POLLIN, 0});
      bool listening = now >= paused_until;
      if (listening) {
        for (auto& l : listeners) {
          fds.push_back({l.fd.get(), POLLIN, 0});
        }
      }
      auto next = now + std::chrono::seconds(60);
      for (auto& s : sessions) {
        short events = s.handshake.output().empty() ? POLLIN : POLLOUT;
        fds.push_back({s.fd.get(), events, 0});
        next = std::min(next, s.deadline);
      }
      if (!listening) {
        next = std::min(next, paused_until);
      }
      auto wait
        = std::chrono::duration_cast<std::chrono::milliseconds>(next - now)
            .count();
      if (::poll(fds.data(), fds.size(),
                 static_cast<int>(std::max<int64_t>(wait, 0)) + 1)
          < 0) {
        if (errno == EINTR) {
          continue;
        }
        spdlog::error("pcloudd: control: poll: {}", std::strerror(errno));
        return;
      }
      if (fds[0].revents != 0) {
        return; // stop
      }
      now = clock_type::now();
      size_t at = 1;
      // Sessions first (they were polled in this order after the
      // listeners); new ones join at the end and are served next round.
      auto first_session = at + (listening ? listeners.size() : 0);
      auto i = sessions.begin();
      for (size_t k = first_session; k < fds.size() && i != sessions.end();
           ++k) {
        if (fds[k].revents != 0 && !serve(*i)) {
          i = drop(i);
        } else if (now >= i->deadline) {
          ++timed_out;
          warn("timeout " + cap_key(i->peer),
               "no handshake from " + i->peer + " within "
                 + std::to_string(opts.handshake_timeout.count()) + " ms");
          i = drop(i);
        } else {
          ++i;
        }
      }
      if (listening) {
        for (auto& l : listeners) {
          if (fds[at++].revents != 0) {
            accept_from(l, now);
          }
        }
      }
    }
  }
};

result<std::unique_ptr<control_door>> control_door::open(door_options opts,
                                                         admit_function admit) {
  std::unique_ptr<control_door> door{new control_door};
  auto l = std::make_unique<loop>();
  if (!opts.socket_path.empty()) {
    auto fd = listen_unix(opts.socket_path);
    if (!fd) {
      return fd.failure_value();
    }
    l->listeners.push_back({std::move(*fd), true});
    door->socket_path_ = opts.socket_path;
  }
  if (!opts.tcp_address.empty()) {
    auto fd = listen_tcp(opts.tcp_address, opts.tcp_port);
    if (!fd) {
      return fd.failure_value();
    }
    door->tcp_port_ = bound_port(*fd);
    l->listeners.push_back({posix::unique_fd{*fd}, false});
  }
  if (l->listeners.empty()) {
    return fail(msg::errc::invalid_argument,
                "the control door needs a unix socket or a TCP address");
  }
  door->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!door->wake_) {
    return fail(std::string{"eventfd: "} + std::strerror(errno));
  }
  l->wake = door->wake_.get();
  l->opts = std::move(opts);
  l->admit = std::move(admit);
  door->loop_ = std::move(l);
  door->thread_ = std::thread{[d = door->loop_.get()] { d->run(); }};
  return door;
}

control_door::~control_door() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
    thread_.join();
  }
  if (!socket_path_.empty()) {
    ::unlink(socket_path_.c_str());
  }
}

door_counters control_door::counters() const {
  door_counters c;
  c.admitted = loop_->admitted;
  c.refused = loop_->refused;
  c.timed_out = loop_->timed_out;
  c.evicted = loop_->evicted;
  return c;
}

} // namespace pcloud::runtime::control
