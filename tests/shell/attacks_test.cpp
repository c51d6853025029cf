// Attacks on a running pcloudd from outside, as doc/security.md lists
// them: each asserts that the attacker got nothing and that pcloudd still
// serves its operator afterwards.
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <gtest/gtest.h>

#include "runtime/control/handshake.hpp"
#include "runtime/control/sockets.hpp"
#include "tests/support/daemon_process.hpp"

using namespace pcloud;
using namespace pcloud::test;
using pcloud::posix::unique_fd;

namespace {

class attacks : public daemon_fixture {
protected:
  attacks() : daemon_fixture("/tmp/pcloud-attack-XXXXXX", "test:///default") {
    // nop
  }

  uint16_t tcp_port() {
    auto text = slurp(dir + "/shell.address");
    return static_cast<uint16_t>(std::stoul(text.substr(text.rfind(':') + 1)));
  }

  size_t daemon_rss_kb() {
    auto status = slurp("/proc/" + std::to_string(daemon_pid) + "/status");
    auto at = status.find("VmRSS:");
    return at == std::string::npos ? 0 : std::stoul(status.substr(at + 6));
  }

  /// The operator's command still works.
  void operator_still_served() {
    auto r = sh({"deployable_list"});
    EXPECT_EQ(r.rc, 0) << r.err;
  }
};

} // namespace

TEST_F(attacks, a_caf_client_without_the_token_reaches_no_actor) {
  start_daemon();
  // CAF's own remote_actor, as the reproduced attack used: with no handle
  // there is nothing to send exit, kill or a link to.
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  cfg.set("logger.verbosity", caf::atom("quiet"));
  {
    caf::actor_system sys{cfg};
    auto service = sys.middleman().remote_actor("127.0.0.1", tcp_port());
    EXPECT_FALSE(service) << "got the shell service without the token";
  }
  operator_still_served();
  EXPECT_NE(
    slurp(dir + "/pcloudd.log")
      .find(
        "refused a connection from 127.0.0.1: not a pcloud control handshake"),
    std::string::npos)
    << slurp(dir + "/pcloudd.log");
}

TEST_F(attacks, an_impostor_on_the_socket_is_told_nothing) {
  start_daemon();
  // pcloudsh is pointed at a socket something else listens on.
  auto fake = runtime::listen_unix(dir + "/impostor.sock");
  ASSERT_TRUE(fake);
  std::string seen;
  std::thread impostor{[&] {
    pollfd p{fake->get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1);
    unique_fd fd{::accept(fake->get(), nullptr, nullptr)};
    char buf[512];
    std::string welcome(runtime::control::magic.begin(),
                        runtime::control::magic.end());
    welcome.append(64, 'x');
    for (int i = 0; i < 2; ++i) {
      pollfd q{fd.get(), POLLIN, 0};
      if (::poll(&q, 1, 5000) != 1) {
        break;
      }
      auto n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      seen.append(buf, static_cast<size_t>(n));
      (void)!::send(fd.get(), welcome.data(), welcome.size(), MSG_NOSIGNAL);
    }
  }};
  auto r = sh({"deployable_create", "dep1"}, {},
              {"--state-dir", dir, "--connect", dir + "/impostor.sock"});
  impostor.join();
  EXPECT_EQ(r.rc, 4) << r.err;
  EXPECT_NE(r.err.find("did not prove"), std::string::npos) << r.err;
  EXPECT_EQ(seen.size(), runtime::control::hello_size)
    << "only the hello reached the impostor";
  auto token = slurp(dir + "/shell.token");
  EXPECT_EQ(seen.find(token.substr(0, 16)), std::string::npos);
  operator_still_served();
}

TEST_F(attacks, idle_connections_and_huge_headers_cost_pcloudd_nothing) {
  start_daemon();
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  size_t flood = 2000;
  ASSERT_GE(lim.rlim_cur, flood + 200) << "this test needs the descriptors";
  operator_still_served();
  auto before = daemon_rss_kb();
  std::vector<unique_fd> idle;
  for (size_t i = 0; i < flood; ++i) {
    auto fd
      = runtime::connect_tcp("127.0.0.1", tcp_port(), std::chrono::seconds(2));
    ASSERT_TRUE(fd) << fd.error();
    if (i % 10 == 0) {
      // Every tenth announces a 4 GiB BASP payload.
      std::vector<uint8_t> header(32, 0);
      header[4] = header[5] = header[6] = header[7] = 0xff;
      (void)!::send(fd->get(), header.data(), header.size(), MSG_NOSIGNAL);
    }
    idle.push_back(std::move(*fd));
  }
  // Over the socket and over TCP, the operator gets in while they wait.
  auto start = std::chrono::steady_clock::now();
  operator_still_served();
  auto r = sh({"deployable_list"}, {},
              {"--state-dir", dir, "--connect",
               "127.0.0.1:" + std::to_string(tcp_port())});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  auto fds = std::distance(
    fs::directory_iterator{"/proc/" + std::to_string(daemon_pid) + "/fd"},
    fs::directory_iterator{});
  EXPECT_LT(fds, 200) << "pcloudd holds the idle connections";
  EXPECT_LT(daemon_rss_kb(), before + 20 * 1024);
}
