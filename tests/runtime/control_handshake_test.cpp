// The control handshake on both sides: the same token admits, anything
// else is refused without the token ever travelling, and the server half
// never holds more than one fixed-size frame.
#include "runtime/control/handshake.hpp"

#include <sys/socket.h>

#include <thread>

#include <gtest/gtest.h>

using namespace pcloud;
using namespace pcloud::runtime::control;
using pcloud::posix::unique_fd;
using namespace std::chrono_literals;

namespace {

const std::string token = std::string(64, 'c');

struct socket_pair {
  unique_fd client, server;
  socket_pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client.reset(fds[0]);
    server.reset(fds[1]);
  }
};

/// Serves one handshake on `fd` with blocking I/O; everything it read.
std::string serve(int fd, server_handshake& hs) {
  std::string seen;
  uint8_t buf[hello_size];
  while (hs.wanted() > 0) {
    auto n = ::recv(fd, buf, hs.wanted(), 0);
    if (n <= 0) {
      break;
    }
    seen.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
    hs.consume(buf, static_cast<size_t>(n));
    if (!hs.output().empty()) {
      auto sent
        = ::send(fd, hs.output().data(), hs.output().size(), MSG_NOSIGNAL);
      hs.sent(sent > 0 ? static_cast<size_t>(sent) : 0);
    }
  }
  return seen;
}

} // namespace

TEST(control_handshake, the_same_token_admits_both_sides) {
  socket_pair p;
  server_handshake hs{token};
  std::thread server{[&] { serve(p.server.get(), hs); }};
  auto ok = client_handshake(p.client.get(), token, 2s);
  server.join();
  EXPECT_TRUE(ok) << ok.error();
  EXPECT_EQ(hs.current(), server_handshake::state::accepted);
}

TEST(control_handshake, a_wrong_token_is_caught_before_the_client_proves) {
  socket_pair p;
  server_handshake hs{token};
  std::string seen;
  std::thread server{[&] { seen = serve(p.server.get(), hs); }};
  auto ok = client_handshake(p.client.get(), std::string(64, 'w'), 2s);
  p.client.reset();
  server.join();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.code(), msg::errc::permission_denied);
  EXPECT_NE(ok.error().find("did not prove"), std::string::npos);
  EXPECT_EQ(seen.size(), hello_size) << "the client sent no proof";
  EXPECT_NE(hs.current(), server_handshake::state::accepted);
}

TEST(control_handshake, an_impostor_learns_nothing_it_could_use) {
  // Something else on the port answers the hello with bytes of its own.
  socket_pair p;
  std::string seen;
  std::thread impostor{[&] {
    char buf[256];
    auto n = ::recv(p.server.get(), buf, sizeof(buf), 0);
    seen.assign(buf, static_cast<size_t>(std::max<ssize_t>(n, 0)));
    std::string welcome(magic.begin(), magic.end());
    welcome.append(nonce_size + proof_size, 'x');
    (void)!::send(p.server.get(), welcome.data(), welcome.size(), MSG_NOSIGNAL);
    n = ::recv(p.server.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      seen.append(buf, static_cast<size_t>(n));
    }
  }};
  auto ok = client_handshake(p.client.get(), token, 2s);
  p.client.reset();
  impostor.join();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.code(), msg::errc::permission_denied);
  EXPECT_EQ(seen.size(), hello_size) << "only the hello, no proof";
  EXPECT_EQ(seen.find(token.substr(0, 8)), std::string::npos);
}

TEST(control_handshake, a_server_that_never_answers_times_out) {
  socket_pair p;
  auto ok = client_handshake(p.client.get(), token, 100ms);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.code(), msg::errc::unavailable);
}

TEST(control_handshake,
     the_server_takes_one_frame_and_refuses_other_protocols) {
  server_handshake hs{token};
  // A BASP header announcing a 4 GiB payload, then more: only the hello's
  // 40 bytes are ever taken, and they are not a hello.
  std::vector<uint8_t> basp(4096, 0xff);
  EXPECT_EQ(hs.consume(basp.data(), basp.size()), hello_size);
  EXPECT_EQ(hs.current(), server_handshake::state::refused);
  EXPECT_EQ(hs.reason(), "not a pcloud control handshake");
  EXPECT_EQ(hs.wanted(), 0u);
  EXPECT_EQ(hs.consume(basp.data(), basp.size()), 0u);
}

TEST(control_handshake, a_replayed_or_wrong_proof_is_refused) {
  server_handshake hs{token};
  std::string hello(magic.begin(), magic.end());
  hello.append(nonce_size, 'n');
  hs.consume(reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
  ASSERT_EQ(hs.current(), server_handshake::state::awaiting_proof);
  ASSERT_EQ(hs.output().size(), welcome_size);
  // The server's own proof sent back is not a client proof.
  auto echoed = hs.output().substr(magic.size() + nonce_size);
  hs.sent(hs.output().size());
  hs.consume(reinterpret_cast<const uint8_t*>(echoed.data()), echoed.size());
  EXPECT_EQ(hs.current(), server_handshake::state::refused);
  EXPECT_EQ(hs.reason(), "wrong token");
  EXPECT_EQ(hs.output(), std::string(1, refused));
}

TEST(control_handshake, proofs_depend_on_side_token_and_both_nonces) {
  auto a = make_nonce(), b = make_nonce();
  EXPECT_NE(a, b);
  auto base = prove(side::client, token, a, b);
  EXPECT_TRUE(proofs_equal(base, prove(side::client, token, a, b)));
  EXPECT_FALSE(proofs_equal(base, prove(side::server, token, a, b)));
  EXPECT_FALSE(proofs_equal(base, prove(side::client, token + "x", a, b)));
  EXPECT_FALSE(proofs_equal(base, prove(side::client, token, b, a)));
}
