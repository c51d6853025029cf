// pcloud-agent on the TCP transport against an impostor where it connects
// (a program that took the port, a relay on the guest's route): the agent
// proves nothing and obeys nothing until the host proved the VM's secret
// (guest/link/proof.hpp).
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender.hpp>

#include "guest/link/amqp_stream.hpp"
#include "guest/link/proof.hpp"
#include "runtime/control/sockets.hpp"
#include "tests/support/guest_link.hpp"

using namespace std::chrono_literals;
using namespace pcloud;

namespace {

constexpr auto timeout = 20s;
const std::string secret = wire::random_hex(32);

/// What the host end may do after the agent's hello.
enum class script {
  /// A challenge with a proof made up: it does not know the secret.
  guessed_proof,
  /// No challenge at all: straight to a configuration and a start.
  no_challenge,
  /// The right proof (the control case: it knows the secret).
  right_proof,
};

/// Serves one agent connection on loopback and, after its hello, follows
/// `script`, then configures an exec resource (`sleep 1000`) and starts it.
/// Records every message the agent sent and whether it closed the link.
class impostor_host : private proton::messaging_handler {
public:
  explicit impostor_host(script what) : script_(what) {
    auto fd = runtime::listen_tcp("127.0.0.1", 0);
    EXPECT_TRUE(fd) << fd.error();
    listener_.reset(*fd);
    channel.port = runtime::bound_port(*fd);
    thread_ = std::thread{[this] {
      loop_.watch(listener_.get(), EPOLLIN, [this](uint32_t) { accept(); });
      loop_.run();
    }};
  }

  ~impostor_host() override {
    loop_.stop();
    thread_.join();
  }

  /// Waits for the agent to close its first connection.
  bool wait_closed() {
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, timeout, [this] { return closed_; });
  }

  /// Waits for the agent's first `n` messages.
  bool wait_messages(size_t n) {
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, timeout,
                        [this, n] { return received_.size() >= n; });
  }

  std::vector<proton::message> received() {
    std::lock_guard<std::mutex> guard{mtx_};
    return received_;
  }

  test::tcp_channel channel;

private:
  void accept() {
    posix::unique_fd fd{::accept4(listener_.get(), nullptr, nullptr,
                                  SOCK_NONBLOCK | SOCK_CLOEXEC)};
    if (!fd || stream_) {
      return; // one agent connection is all this needs
    }
    proton::connection_options opts;
    opts.handler(*this).container_id("impostor").sasl_enabled(false);
    stream_ = std::make_unique<guest::amqp_stream>(std::move(fd), opts, true);
    pump();
  }

  void pump() {
    if (stream_->finished()) {
      loop_.unwatch(stream_->fd());
      mark_closed();
      return;
    }
    auto events = EPOLLIN | (stream_->wants_write() ? EPOLLOUT : 0u);
    loop_.watch(stream_->fd(), events, [this](uint32_t ev) {
      if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
        stream_->on_readable();
      } else {
        stream_->process();
      }
      pump();
    });
  }

  void mark_closed() {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    cv_.notify_all();
  }

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

  void on_message(proton::delivery&, proton::message& m) override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      received_.push_back(m);
      cv_.notify_all();
    }
    auto x = wire::decode_from_agent(m);
    if (!x.ok() || !std::holds_alternative<wire::hello>(x.value)) {
      return;
    }
    auto& h = std::get<wire::hello>(x.value);
    auto host_nonce = wire::make_nonce();
    if (script_ == script::guessed_proof) {
      sender_.send(wire::encode(
        wire::challenge{host_nonce, wire::random_hex(wire::proof_digits / 2)}));
    } else if (script_ == script::right_proof) {
      sender_.send(wire::encode(wire::challenge{
        host_nonce, wire::prove(wire::prover::host, secret, h.assembly, h.nonce,
                                host_nonce)}));
    }
    wire::resource_definition evil;
    evil.name = "evil";
    evil.resource_class = "exec";
    evil.type = "sleep 1000";
    sender_.send(wire::encode(wire::configure{h.assembly, {evil}}));
    sender_.send(wire::encode(wire::command{"evil", "start"}));
  }

  void on_error(const proton::error_condition&) override {
    // The agent closed the link: what these tests expect.
  }

  script script_;
  posix::unique_fd listener_;
  guest::event_loop loop_;
  std::unique_ptr<guest::amqp_stream> stream_;
  proton::sender sender_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<proton::message> received_;
  bool closed_ = false;
  std::thread thread_;
};

/// Every message's bytes hold no trace of the secret.
void expect_no_secret_in(const std::vector<proton::message>& messages) {
  for (auto& m : messages) {
    std::vector<char> bytes;
    m.encode(bytes);
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()).find(secret),
              std::string::npos);
  }
}

size_t proofs_in(const std::vector<proton::message>& messages) {
  size_t n = 0;
  for (auto& m : messages) {
    auto x = wire::decode_from_agent(m);
    n += x.ok() && std::holds_alternative<wire::proof>(x.value) ? 1 : 0;
  }
  return n;
}

bool sleeps_within(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (test::child_pids("sleep").empty()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

} // namespace

TEST(agent_security, an_impostor_host_learns_no_secret_and_is_not_obeyed) {
  impostor_host host{script::guessed_proof};
  {
    test::agent_thread agent{host.channel, "a1", "boot-1", secret};
    ASSERT_TRUE(host.wait_closed()) << "the agent hangs up on a bad proof";
    // Everything the agent sent on that connection has been read: it said
    // hello, with a nonce and nothing else to reuse, and proved nothing.
    auto got = host.received();
    ASSERT_GE(got.size(), 1u);
    auto hello = wire::decode_from_agent(got.front());
    ASSERT_TRUE(hello.ok()) << hello.error;
    EXPECT_TRUE(wire::is_hex(std::get<wire::hello>(hello.value).nonce,
                             wire::nonce_digits));
    expect_no_secret_in(got);
    EXPECT_EQ(proofs_in(got), 0u);
    // The configuration and the start that followed the bad proof were
    // dispatched before the agent's close reached the impostor, and a start
    // forks at once: had it been obeyed, a child would be here.
    EXPECT_TRUE(test::child_pids("").empty());
  }
}

TEST(agent_security, a_host_that_never_challenges_is_not_obeyed) {
  impostor_host host{script::no_challenge};
  {
    test::agent_thread agent{host.channel, "a1", "boot-1", secret};
    ASSERT_TRUE(host.wait_closed());
    expect_no_secret_in(host.received());
    EXPECT_EQ(proofs_in(host.received()), 0u);
    EXPECT_TRUE(test::child_pids("").empty());
  }
}

TEST(agent_security, a_host_that_proves_the_secret_is_answered_and_obeyed) {
  // The control case: the same script with the right proof gets the
  // agent's proof, and the resource starts.
  impostor_host host{script::right_proof};
  test::agent_thread agent{host.channel, "a1", "boot-1", secret};
  ASSERT_TRUE(host.wait_messages(2));
  EXPECT_EQ(proofs_in(host.received()), 1u);
  expect_no_secret_in(host.received());
  EXPECT_TRUE(sleeps_within(timeout));
}
