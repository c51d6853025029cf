// The service prober against real sockets on the loopback: what counts as
// a service answering, through a forward and directly, and that every check
// answers within its timeout.
#include "runtime/service_prober.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/posix/unique_fd.hpp"
#include "tests/support/live.hpp"

namespace pcloud::runtime {
namespace {

using namespace std::chrono_literals;

/// What the test server does with each connection it accepts.
enum class server_mode { answer_200, answer_500, close_at_once, hold, silent };

/// A TCP server on 127.0.0.1, on a thread of its own.
class test_server {
public:
  explicit test_server(server_mode mode) : mode_(mode) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), len);
    ::listen(fd_.get(), 16);
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread{[this] { serve(); }};
  }

  ~test_server() {
    stopping_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }

  uint16_t port() const { return port_; }

private:
  void serve() {
    std::vector<posix::unique_fd> held;
    while (!stopping_) {
      posix::unique_fd c{::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC)};
      if (!c) {
        return;
      }
      if (mode_ == server_mode::answer_200
          || mode_ == server_mode::answer_500) {
        char buf[1024];
        (void)!::recv(c.get(), buf, sizeof(buf), 0);
        std::string answer = mode_ == server_mode::answer_200
                               ? "HTTP/1.0 200 OK\r\n\r\nhello"
                               : "HTTP/1.0 500 Oops\r\n\r\n";
        (void)!::send(c.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
      } else if (mode_ != server_mode::close_at_once) {
        held.push_back(std::move(c)); // hold, silent: keep it open
      }
    }
  }

  server_mode mode_;
  posix::unique_fd fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

class service_prober_test : public ::testing::Test {
protected:
  ~service_prober_test() override {
    caf::anon_send_exit(prober, caf::exit_reason::user_shutdown);
  }

  /// Runs one check and returns its result.
  msg::reach_result check(msg::reach_check x) {
    caf::scoped_actor self{sys};
    self->send(prober, x, caf::actor_cast<msg::reach_listener_actor>(self));
    msg::reach_result result;
    result.detail = "no answer";
    self->receive([&](msg::reach_result& r) { result = std::move(r); },
                  caf::after(5s) >> [] {});
    return result;
  }

  static msg::reach_check tcp(uint16_t port, bool forwarded = false) {
    msg::reach_check x;
    x.id = 7;
    x.address = "127.0.0.1";
    x.port = port;
    x.forwarded = forwarded;
    x.probe.kind = "tcp";
    return x;
  }

  static msg::reach_check http(uint16_t port) {
    auto x = tcp(port, true);
    x.probe.kind = "http";
    x.probe.path = "/";
    return x;
  }

  /// A forward's connection must stay open 1 s here: the test server
  /// closes within that even on a loaded machine.
  static service_prober_options options() {
    service_prober_options opts;
    opts.forward_hold = 1s;
    return opts;
  }

  test::live_config cfg;
  caf::actor_system sys{cfg};
  msg::service_prober_actor prober = spawn_service_prober(sys, options());
};

/// A port nothing listens on, held for as long as the object lives: a
/// socket bound but not listening refuses connections.
class closed_port {
public:
  closed_port() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), len);
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  uint16_t port() const { return port_; }

private:
  posix::unique_fd fd_;
  uint16_t port_ = 0;
};

TEST_F(service_prober_test, a_listening_service_answers_a_connect) {
  test_server s{server_mode::hold};
  auto r = check(tcp(s.port()));
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.id, 7u) << "the asker's id comes back";
  EXPECT_EQ(r.detail, "connected");
}

TEST_F(service_prober_test, nothing_listening_is_refused) {
  closed_port closed;
  auto r = check(tcp(closed.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "Connection refused");
}

TEST_F(service_prober_test, through_a_forward_a_connect_must_stay_open) {
  // What QEMU's forward does when nothing listens in the guest: accept,
  // then close.
  test_server gone{server_mode::close_at_once};
  auto x = tcp(gone.port(), true);
  x.probe.timeout = 3s;
  auto r = check(x);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "closed at once (nothing listens behind the forward?)");
  test_server held{server_mode::hold};
  x.port = held.port();
  r = check(x);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "connected and held 1000ms");
}

TEST_F(service_prober_test, http_is_judged_by_its_status) {
  test_server good{server_mode::answer_200};
  auto r = check(http(good.port()));
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "status 200");
  test_server bad{server_mode::answer_500};
  r = check(http(bad.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "status 500 (wanted 200-399)");
  test_server gone{server_mode::close_at_once};
  r = check(http(gone.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "closed without a response");
}

TEST_F(service_prober_test, a_silent_service_times_out) {
  test_server s{server_mode::silent};
  auto x = http(s.port());
  x.probe.timeout = 300ms;
  auto r = check(x);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "timed out after 300ms");
}

TEST_F(service_prober_test, a_bad_address_is_an_answer_not_a_hang) {
  auto x = tcp(80);
  x.address = "not-an-address";
  auto r = check(x);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "'not-an-address' is not an IP address");
}

} // namespace
} // namespace pcloud::runtime
