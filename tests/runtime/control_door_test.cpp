// The control door under attack: only peers that prove the token get
// through, nothing an unauthenticated peer sends is read beyond one
// fixed-size frame, idle peers are dropped, and a flood of them neither
// locks operators out nor holds more than the cap of descriptors.
#include "runtime/control/control_door.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/control/handshake.hpp"
#include "runtime/control/sockets.hpp"
#include "tests/support/descriptors.hpp"

using namespace pcloud;
using namespace pcloud::runtime;
using namespace pcloud::runtime::control;
using pcloud::posix::unique_fd;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string token = std::string(64, 't');

class control_door_test : public ::testing::Test {
protected:
  control_door_test() {
    std::string tmpl = "/tmp/pcloud-door-XXXXXX";
    dir = ::mkdtemp(tmpl.data());
  }

  ~control_door_test() override {
    door.reset();
    fs::remove_all(dir);
  }

  void open(door_options opts = {}) {
    opts.token = token;
    if (opts.socket_path.empty()) {
      opts.socket_path = dir + "/door.sock";
    }
    opts.tcp_address = "127.0.0.1";
    auto d
      = control_door::open(opts, [this](unique_fd fd, const std::string& peer) {
          std::lock_guard<std::mutex> guard{mtx};
          admitted.push_back(std::move(fd));
          peers.push_back(peer);
          cv.notify_all();
        });
    ASSERT_TRUE(d) << d.error();
    door = std::move(*d);
  }

  unique_fd connect() {
    auto fd = connect_tcp("127.0.0.1", door->tcp_port(), 2s);
    EXPECT_TRUE(fd) << fd.error();
    return fd ? std::move(*fd) : unique_fd{};
  }

  bool wait_admitted(size_t n) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, 10s, [&] { return admitted.size() >= n; });
  }

  /// Waits (polling the counters: the door's thread owns them) for `pred`.
  template <class Pred>
  bool wait_counters(Pred pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred(door->counters())) {
        return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  /// Whether the door closed `fd` (reads to end of file within 10 s).
  static bool closed_by_peer(int fd) {
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[256];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n == 0) {
        return true;
      }
      if (n < 0) {
        return errno == ECONNRESET;
      }
    }
  }

  std::string dir;
  std::unique_ptr<control_door> door;
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<unique_fd> admitted;
  std::vector<std::string> peers;
};

} // namespace

TEST_F(control_door_test, admits_a_peer_that_proves_the_token) {
  open();
  auto tcp = connect();
  ASSERT_TRUE(client_handshake(tcp.get(), token, 2s));
  auto unix_fd = connect_unix(dir + "/door.sock");
  ASSERT_TRUE(unix_fd);
  ASSERT_TRUE(client_handshake(unix_fd->get(), token, 2s));
  ASSERT_TRUE(wait_admitted(2));
  EXPECT_EQ(peers[0], "127.0.0.1");
  EXPECT_EQ(peers[1].rfind("uid " + std::to_string(::getuid()), 0), 0u)
    << peers[1];
  EXPECT_EQ(door->counters().admitted, 2u);
}

TEST_F(control_door_test, the_unix_socket_is_for_its_owner_only) {
  open();
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/door.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  door.reset();
  EXPECT_FALSE(fs::exists(dir + "/door.sock")) << "removed at stop";
  // A file that is not a socket is never replaced.
  std::ofstream{dir + "/door.sock"} << "data\n";
  door_options opts;
  opts.token = token;
  opts.socket_path = dir + "/door.sock";
  auto d = control_door::open(opts, [](unique_fd, const std::string&) {});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.code(), msg::errc::exists);
  EXPECT_TRUE(fs::is_regular_file(dir + "/door.sock"));
}

TEST_F(control_door_test, a_wrong_proof_is_refused_and_closed) {
  open();
  auto fd = connect();
  std::string hello(magic.begin(), magic.end());
  hello.append(nonce_size, 'n');
  ASSERT_EQ(::send(fd.get(), hello.data(), hello.size(), 0),
            static_cast<ssize_t>(hello.size()));
  char welcome[welcome_size];
  ASSERT_EQ(::recv(fd.get(), welcome, sizeof(welcome), MSG_WAITALL),
            static_cast<ssize_t>(sizeof(welcome)));
  std::string proof(proof_size, 'p');
  ASSERT_EQ(::send(fd.get(), proof.data(), proof.size(), 0),
            static_cast<ssize_t>(proof.size()));
  char verdict = 0;
  ASSERT_EQ(::recv(fd.get(), &verdict, 1, 0), 1);
  EXPECT_EQ(verdict, refused);
  EXPECT_TRUE(closed_by_peer(fd.get()));
  EXPECT_EQ(door->counters().refused, 1u);
  EXPECT_TRUE(admitted.empty());
}

TEST_F(control_door_test, a_huge_basp_header_is_never_read_as_one) {
  door_options opts;
  opts.handshake_timeout = 300ms;
  open(opts);
  // CAF 0.17's BASP header (32 bytes) announcing a 4 GiB payload: pcloudd
  // allocated and zeroed that much. The door waits for 40 bytes, then
  // drops the peer at the deadline.
  auto fd = connect();
  std::vector<uint8_t> header(32, 0);
  header[4] = header[5] = header[6] = header[7] = 0xff;
  ASSERT_EQ(::send(fd.get(), header.data(), header.size(), 0), 32);
  EXPECT_TRUE(closed_by_peer(fd.get()));
  EXPECT_EQ(door->counters().timed_out, 1u);
  // And the same followed by its payload's first bytes: refused at 40.
  auto more = connect();
  header.resize(4096, 0xee);
  ASSERT_EQ(::send(more.get(), header.data(), header.size(), 0), 4096);
  EXPECT_TRUE(closed_by_peer(more.get()));
  EXPECT_EQ(door->counters().refused, 1u);
  EXPECT_TRUE(admitted.empty());
}

TEST_F(control_door_test, a_flood_of_idle_connections_locks_nobody_out) {
  // 2,000 connections that never speak, as in the attack: the door keeps
  // at most its cap of them, and an operator still gets in at once.
  size_t flood = 2000;
  ASSERT_TRUE(test::allow_descriptors(flood + 200))
    << "this test needs the descriptors";
  door_options opts;
  opts.max_pending = 64;
  opts.max_pending_per_peer = 16;
  open(opts);
  std::vector<unique_fd> idle;
  for (size_t i = 0; i < flood; ++i) {
    idle.push_back(connect());
  }
  ASSERT_TRUE(wait_counters([&](const door_counters& c) {
    return c.evicted >= flood - opts.max_pending_per_peer;
  }))
    << door->counters().evicted;
  auto fd = connect();
  auto ok = client_handshake(fd.get(), token, 1s);
  EXPECT_TRUE(ok) << ok.error();
  // And the unix socket has its own slots, whatever comes over TCP.
  auto local = connect_unix(dir + "/door.sock");
  ASSERT_TRUE(local);
  ok = client_handshake(local->get(), token, 1s);
  EXPECT_TRUE(ok) << ok.error();
  ASSERT_TRUE(wait_admitted(2));
  // Every idle connection but the newest few was closed by the door.
  size_t still_open = 0;
  for (auto& x : idle) {
    char c;
    if (::recv(x.get(), &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN) {
      ++still_open;
    }
  }
  EXPECT_LE(still_open, opts.max_pending_per_peer);
}

TEST_F(control_door_test, stops_with_peers_waiting) {
  open();
  auto a = connect();
  auto b = connect();
  door.reset();
  EXPECT_TRUE(closed_by_peer(a.get()));
  EXPECT_TRUE(closed_by_peer(b.get()));
}
