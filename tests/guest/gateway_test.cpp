// The guest gateway against misbehaving guests: garbage, oversized frames, a
// guest claiming another assembly, floods, a hung guest, a slow boot, and a
// host end that goes away and comes back. Peers are the real agent or a
// scripted AMQP peer on socketpairs (a fake of the guest, never of the
// gateway); each test waits, with a timeout, for what the gateway relays.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "guest/link/amqp_stream.hpp"
#include "guest/link/proof.hpp"
#include "runtime/guest_gateway.hpp"
#include "tests/support/guest_link.hpp"
#include "tests/support/live.hpp"

using namespace std::chrono_literals;
using namespace pcloud;

namespace {

constexpr auto timeout = 20s;

/// A scripted AMQP peer in place of the agent: says hello (as `assembly`),
/// then sends `extra` copies of `then` as fast as it gets credit. `prefix`
/// is written raw before the AMQP connection starts.
class scripted_peer : private proton::messaging_handler {
public:
  template <class Channel>
  scripted_peer(Channel& channel, std::string assembly,
                proton::message then = {}, size_t extra = 0,
                std::string prefix = {}, size_t extra_links = 0)
      : assembly_(std::move(assembly)), then_(std::move(then)), extra_(extra),
        extra_links_(extra_links) {
    start(channel, std::move(prefix));
  }

  /// An impostor agent over TCP: its hello carries a nonce and it answers
  /// any challenge with a proof made with `secret`, without checking the
  /// host's.
  scripted_peer(test::tcp_channel& channel, std::string assembly,
                std::string secret)
      : assembly_(std::move(assembly)), extra_(0), extra_links_(0),
        secret_(std::move(secret)), nonce_(wire::make_nonce()) {
    start(channel, {});
  }

  ~scripted_peer() override {
    loop_.stop();
    thread_.join();
  }

  /// Stops answering (and heartbeating) without closing the link: a guest
  /// whose vCPUs stopped.
  void freeze() { loop_.stop(); }

private:
  template <class Channel>
  void start(Channel& channel, std::string prefix) {
    thread_ = std::thread{[this, &channel, prefix] {
      std::string error;
      int fd = -1;
      while ((fd = channel.agent_open(error)) < 0) {
        std::this_thread::sleep_for(5ms); // waits for the gateway's connect
      }
      if (!prefix.empty()) {
        EXPECT_EQ(::write(fd, prefix.data(), prefix.size()),
                  static_cast<ssize_t>(prefix.size()));
      }
      proton::connection_options opts;
      opts.handler(*this).container_id("peer").sasl_enabled(false);
      stream_ = std::make_unique<guest::amqp_stream>(posix::unique_fd{fd}, opts,
                                                     false);
      pump();
      loop_.run(); // the stream (and its fd) outlives a freeze
    }};
  }

  void pump() {
    loop_.watch(stream_->fd(), EPOLLIN, [this](uint32_t) {
      stream_->on_readable();
      pump_tick();
    });
    pump_tick();
  }

  void pump_tick() {
    auto next = stream_->tick();
    if (next > 0) {
      loop_.after(std::chrono::milliseconds{next - guest::proton_now_ms()},
                  [this] { pump_tick(); });
    }
  }

  void on_connection_open(proton::connection& c) override {
    c.open_sender("pcloud.host");
    c.open_receiver("pcloud.agent");
    // A guest that opens endpoints without end, each on a session of its
    // own.
    for (size_t i = 0; i < extra_links_; ++i) {
      c.open_session().open_receiver("flood-" + std::to_string(i));
    }
  }

  void on_sendable(proton::sender& s) override {
    if (!hello_sent_) {
      wire::hello h;
      h.assembly = assembly_;
      h.agent_version = "scripted";
      h.boot_id = "boot-x";
      h.nonce = nonce_;
      s.send(wire::encode(h));
      hello_sent_ = true;
    }
    sender_ = s;
    while (sent_ < extra_ && s.credit() > 0) {
      s.send(then_);
      ++sent_;
    }
  }

  void on_message(proton::delivery&, proton::message& m) override {
    auto x = wire::decode_from_host(m);
    if (x.ok() && std::holds_alternative<wire::challenge>(x.value)
        && !secret_.empty()) {
      auto& c = std::get<wire::challenge>(x.value);
      sender_.send(wire::encode(wire::proof{wire::prove(
        wire::prover::agent, secret_, assembly_, nonce_, c.nonce)}));
    }
  }

  void on_error(const proton::error_condition&) override {
    // The gateway closed us: expected in these tests.
  }

  std::string assembly_;
  proton::message then_;
  size_t extra_;
  size_t extra_links_;
  size_t sent_ = 0;
  bool hello_sent_ = false;
  std::string secret_;
  std::string nonce_;
  proton::sender sender_;
  guest::event_loop loop_;
  std::unique_ptr<guest::amqp_stream> stream_;
  std::thread thread_;
};

class gateway_test : public ::testing::Test {
public:
  gateway_test() : sys(cfg) {
    // nop
  }

  ~gateway_test() override {
    for (auto& l : listeners) {
      caf::anon_send_exit(l, caf::exit_reason::user_shutdown);
    }
    if (gateway) {
      caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
    }
    sys.await_all_actors_done();
  }

  void spawn_gateway(runtime::guest_gateway_options opts = {}) {
    opts.connect = [this](const msg::domain_info& info) {
      return channels[info.assembly].host_connect();
    };
    gateway = runtime::spawn_guest_gateway(sys, opts);
  }

  /// Gateway options with a TCP listener that agents reach through `tcp`.
  runtime::guest_gateway_options tcp_options() {
    std::string error;
    auto opts = test::tcp_gateway_options(tcp, error);
    EXPECT_GE(opts.tcp_listener, 0) << error;
    return opts;
  }

  /// The secret of `name`'s incarnation `n` (the hypervisor makes random
  /// ones; these differ as much).
  static std::string secret_of(const std::string& name, uint64_t n = 1) {
    auto x = name + "-" + std::to_string(n) + "-";
    return x + std::string(64 - x.size(), 's');
  }

  /// Attaches assembly `name` (resources: "worker", `sleep 1000`) with a
  /// channel, or as incarnation `n` of a domain without one, whose agent
  /// comes over TCP with secret_of(name, n).
  test::relayed& attach(const std::string& name, bool over_tcp = false,
                        uint64_t n = 1) {
    if (!gateway) {
      spawn_gateway();
    }
    auto& r = relays[name] = test::relayed{};
    auto l = r.spawn_listener(sys);
    listeners.push_back(l);
    msg::resource_spec worker;
    worker.name = "worker";
    worker.resource_class = "exec";
    worker.type = "sleep 1000";
    caf::anon_send(gateway, msg::attach_atom::value,
                   msg::domain_info{name, n, "pcloud-" + name, "uuid", false,
                                    over_tcp ? "" : "socketpair:" + name,
                                    over_tcp ? secret_of(name, n) : ""},
                   std::vector<msg::resource_spec>{worker}, l);
    return r;
  }

  void command(const std::string& assembly, msg::resource_operation op) {
    caf::anon_send(gateway, msg::resource_command{assembly, "worker", op});
  }

  /// Writes raw bytes as the guest of `name`.
  void write_raw(const std::string& name, const std::string& bytes) {
    std::string error;
    int fd = -1;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while ((fd = channels[name].agent_open(error)) < 0
           && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_GE(fd, 0) << error;
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    raw_fds.push_back(fd);
  }

  /// A healthy neighbour keeps working whatever happened to another link.
  void expect_healthy(const std::string& name) {
    auto& r = relays[name];
    auto from = r.reports->items().size();
    command(name, msg::resource_operation::start);
    EXPECT_TRUE(
      r.wait_report("worker", msg::resource_condition::running, from));
    EXPECT_TRUE(r.gone->items().empty());
  }

  test::live_config cfg;
  caf::actor_system sys;
  msg::guest_gateway_actor gateway;
  std::map<std::string, test::fake_channel> channels;
  /// For agents on the TCP transport (tcp_options).
  test::tcp_channel tcp;
  std::map<std::string, test::relayed> relays;
  std::vector<msg::guest_listener_actor> listeners;
  std::vector<int> raw_fds;
};

TEST_F(gateway_test, agent_says_hello_and_runs_commands) {
  auto& r = attach("a1");
  test::agent_thread agent{channels["a1"], "a1"};
  ASSERT_TRUE(r.wait_hellos(1));
  auto h = r.hellos->items().front();
  EXPECT_EQ(h.assembly, "a1");
  EXPECT_EQ(h.boot_id, "boot-1");
  EXPECT_EQ(h.protocol_version, wire::protocol_version);
  command("a1", msg::resource_operation::start);
  EXPECT_TRUE(r.wait_report("worker", msg::resource_condition::running));
  command("a1", msg::resource_operation::stop);
  EXPECT_TRUE(r.wait_report("worker", msg::resource_condition::stopped, 1));
}

TEST_F(gateway_test, garbage_closes_only_that_link) {
  auto& good = attach("good");
  test::agent_thread agent{channels["good"], "good"};
  ASSERT_TRUE(good.wait_hellos(1));
  auto& bad = attach("bad");
  // Bytes before a protocol header are skipped (leftovers of an agent's
  // previous connection), but not without end.
  write_raw("bad", std::string(70 * 1024, '\x17'));
  EXPECT_NE(bad.wait_gone().find("no AMQP protocol header"), std::string::npos)
    << bad.wait_gone();
  expect_healthy("good");
}

TEST_F(gateway_test, garbage_after_the_header_closes_the_link) {
  auto& bad = attach("bad");
  write_raw("bad",
            std::string{"AMQP\x00\x01\x00\x00", 8} + std::string(64, '\x17'));
  EXPECT_NE(bad.wait_gone().find("agent link failed"), std::string::npos)
    << bad.wait_gone();
}

TEST_F(gateway_test, leftovers_of_an_earlier_connection_are_skipped) {
  auto& r = attach("a1");
  // The tail of a frame from the agent's previous connection (a
  // virtio-serial port has no connection boundaries), then a new one.
  scripted_peer peer{channels["a1"],
                     "a1",
                     {},
                     0,
                     std::string{"\x00\x00\x00\x08\x02\x00\x00\x00", 8}};
  EXPECT_TRUE(r.wait_hellos(1));
  EXPECT_TRUE(r.gone->items().empty());
}

TEST_F(gateway_test, oversized_frame_closes_the_link) {
  auto& good = attach("good");
  test::agent_thread agent{channels["good"], "good"};
  ASSERT_TRUE(good.wait_hellos(1));
  auto& bad = attach("bad");
  // The AMQP header, then a frame header announcing 16 MiB.
  std::string bytes{"AMQP\x00\x01\x00\x00", 8};
  bytes += std::string{"\x01\x00\x00\x00\x02\x00\x00\x00", 8};
  write_raw("bad", bytes);
  EXPECT_NE(bad.wait_gone().find("agent link failed"), std::string::npos)
    << bad.wait_gone();
  expect_healthy("good");
}

TEST_F(gateway_test, guest_claiming_another_assembly_is_refused) {
  auto& r = attach("a1");
  test::agent_thread impostor{channels["a1"], "a2"};
  EXPECT_NE(r.wait_gone().find("claims to be assembly 'a2'"), std::string::npos)
    << r.wait_gone();
  EXPECT_TRUE(r.hellos->items().empty());
}

/// Keeps what pcloud logs, to check what the gateway said about a refusal.
class captured_log {
public:
  captured_log()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
  }
  ~captured_log() { spdlog::set_default_logger(previous_); }

  bool says(const std::string& text) const { return count(text) > 0; }

  size_t count(const std::string& text) const {
    size_t n = 0;
    for (auto& line : sink_->last_formatted()) {
      n += line.find(text) != std::string::npos ? 1 : 0;
    }
    return n;
  }

  bool wait_for(const std::string& text) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!says(text) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    return says(text);
  }

private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(gateway_test, tcp_agents_prove_their_assembly_with_its_secret) {
  captured_log log;
  auto opts = tcp_options();
  spawn_gateway(opts);
  auto& r = attach("a1", true);
  auto secret = secret_of("a1");
  // Refused first: no secret, another assembly's secret, a secret for an
  // assembly that is not running here (the same answer: a peer without the
  // secret learns nothing about what runs here). The impostors prove
  // whatever the host says; a real agent would not even prove (below).
  test::agent_thread bare{tcp, "a1", "bare"};
  ASSERT_TRUE(log.wait_for("closed: protocol violation: no nonce in the "
                           "hello for assembly 'a1'"));
  scripted_peer wrong{tcp, "a1", secret_of("a2")};
  ASSERT_TRUE(log.wait_for("closed: protocol violation: a wrong secret for "
                           "assembly 'a1'"));
  scripted_peer elsewhere{tcp, "a3", secret_of("a3")};
  ASSERT_TRUE(log.wait_for("closed: protocol violation: a wrong secret for "
                           "assembly 'a3'"));
  EXPECT_TRUE(r.hellos->items().empty());
  // The agent with a1's secret is a1's link, and the only one.
  test::agent_thread agent{tcp, "a1", "right", secret};
  ASSERT_TRUE(r.wait_hellos(1));
  EXPECT_EQ(r.hellos->items().front().boot_id, "right");
  EXPECT_TRUE(log.wait_for("a1: agent connected over TCP from 127.0.0.1:"));
  command("a1", msg::resource_operation::start);
  EXPECT_TRUE(r.wait_report("worker", msg::resource_condition::running));
  test::agent_thread second{tcp, "a1", "second", secret};
  EXPECT_TRUE(log.wait_for("assembly 'a1' has its agent connected already"));
  EXPECT_EQ(r.hellos->items().size(), 1u);
  EXPECT_TRUE(r.gone->items().empty()) << "refusals never end a1's link";
}

using gateway_security = gateway_test;

TEST_F(gateway_security, a_tcp_claim_never_takes_an_assembly_on_its_channel) {
  // A channel assembly has no secret at all: its agent is on its channel,
  // and whatever a TCP peer says, it is refused.
  captured_log log;
  auto opts = tcp_options();
  spawn_gateway(opts);
  auto& r = attach("a1");
  scripted_peer impostor{tcp, "a1", secret_of("a1")};
  ASSERT_TRUE(log.wait_for("closed: protocol violation: a wrong secret for "
                           "assembly 'a1'"));
  EXPECT_TRUE(r.hellos->items().empty());
}

TEST_F(gateway_security, a_secret_seen_once_is_worth_nothing_after_a_restart) {
  // An agent run by another user with the secret of an earlier VM
  // incarnation (read from wherever it leaked) loses: every start makes a
  // new one.
  captured_log log;
  auto opts = tcp_options();
  spawn_gateway(opts);
  attach("a1", true, 1);
  auto& r = attach("a1", true, 2); // the VM was restarted
  scripted_peer stale{tcp, "a1", secret_of("a1", 1)};
  ASSERT_TRUE(log.wait_for("closed: protocol violation: a wrong secret for "
                           "assembly 'a1'"));
  EXPECT_TRUE(r.hellos->items().empty());
  test::agent_thread agent{tcp, "a1", "fresh", secret_of("a1", 2)};
  ASSERT_TRUE(r.wait_hellos(1));
  EXPECT_EQ(r.hellos->items().front().boot_id, "fresh");
}

TEST_F(gateway_test, tcp_connections_that_never_say_hello_are_dropped) {
  captured_log log;
  auto opts = tcp_options();
  opts.hello_timeout = 300ms;
  opts.max_pending = 2;
  spawn_gateway(opts);
  std::string error;
  std::vector<int> silent;
  for (int i = 0; i < 3; ++i) {
    silent.push_back(tcp.agent_open(error));
    ASSERT_GE(silent.back(), 0) << error;
  }
  EXPECT_TRUE(log.wait_for("closed: made room: 2 connections wait for their "
                           "hello"))
    << "a third silent connection makes room: the oldest goes";
  EXPECT_TRUE(log.wait_for("closed: no hello within 300 ms"));
  for (int fd : silent) {
    ::close(fd);
  }
  // Room again: a real agent still gets in.
  auto& r = attach("a1", true);
  test::agent_thread agent{tcp, "a1", "boot-1", secret_of("a1")};
  EXPECT_TRUE(r.wait_hellos(1));
}

/// True once the other end has closed `fd` (read gives EOF) within `limit`.
bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0
        || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    char byte;
    auto n = ::read(fd, &byte, 1);
    if (n == 0) {
      return true;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return true; // reset
    }
  }
}

/// A TCP connection to 127.0.0.1:`port` from `source` (any 127.x.y.z: what
/// a local user can take), or -1.
int connect_from(const char* source, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0
      || ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST_F(gateway_security, a_flood_of_silent_connections_keeps_no_agent_out) {
  captured_log log;
  auto opts = tcp_options();
  opts.max_pending = 8;
  opts.max_pending_per_peer = 3;
  spawn_gateway(opts);
  // One source floods: it never holds more than its share.
  std::vector<int> flood;
  for (int i = 0; i < 10; ++i) {
    flood.push_back(connect_from("127.0.0.2", tcp.port));
    ASSERT_GE(flood.back(), 0);
  }
  EXPECT_TRUE(log.wait_for("closed: made room: 3 connections from its "
                           "address wait for their hello"));
  // Others fill every slot; an agent still gets in, making room.
  for (const char* source : {"127.0.0.3", "127.0.0.4", "127.0.0.5"}) {
    for (int i = 0; i < 3; ++i) {
      flood.push_back(connect_from(source, tcp.port));
      ASSERT_GE(flood.back(), 0);
    }
  }
  EXPECT_TRUE(log.wait_for("closed: made room: 8 connections wait for their "
                           "hello"));
  auto& r = attach("a1", true);
  test::agent_thread agent{tcp, "a1", "boot-1", secret_of("a1")};
  EXPECT_TRUE(r.wait_hellos(1));
  // The oldest of the flood were closed by the gateway.
  EXPECT_TRUE(closed_by_peer(flood.front(), 5000ms));
  for (int fd : flood) {
    ::close(fd);
  }
}

TEST_F(gateway_test, the_same_refusal_from_one_address_is_logged_once) {
  captured_log log;
  auto opts = tcp_options();
  opts.hello_timeout = 100ms;
  spawn_gateway(opts);
  std::string error;
  // A misconfigured client reconnecting again and again: each connection is
  // refused, one line says so (the next, a minute on, counts the others).
  for (int i = 0; i < 5; ++i) {
    int fd = tcp.agent_open(error);
    ASSERT_GE(fd, 0) << error;
    EXPECT_TRUE(closed_by_peer(fd, 5000ms)) << "connection " << i;
    ::close(fd);
  }
  EXPECT_EQ(log.count("closed: no hello within 100 ms"), 1u);
  // Another refusal of the same address is news.
  test::agent_thread bare{tcp, "a1", "bare"};
  EXPECT_TRUE(log.wait_for("closed: protocol violation: no nonce in the hello "
                           "for assembly 'a1'"));
}

TEST_F(gateway_test, agent_that_does_not_know_its_assembly_is_served) {
  auto& r = attach("a1");
  // No pcloud.assembly= on its kernel command line: the link says which.
  test::agent_thread agent{channels["a1"], ""};
  ASSERT_TRUE(r.wait_hellos(1));
  EXPECT_EQ(r.hellos->items().front().assembly, "a1");
  command("a1", msg::resource_operation::start);
  EXPECT_TRUE(r.wait_report("worker", msg::resource_condition::running));
}

TEST_F(gateway_test, report_for_a_foreign_resource_closes_the_link) {
  auto& r = attach("a1");
  scripted_peer peer{channels["a1"], "a1",
                     wire::encode(wire::resource_state{"db", "running", ""}),
                     1};
  EXPECT_NE(r.wait_gone().find("not one of assembly a1's"), std::string::npos)
    << r.wait_gone();
  EXPECT_TRUE(r.reports->items().empty());
}

TEST_F(gateway_test, address_changes_after_hello_are_relayed) {
  auto& r = attach("a1");
  scripted_peer peer{channels["a1"], "a1",
                     wire::encode(wire::address_change{{"192.168.122.57"}}), 1};
  ASSERT_TRUE(r.addresses->wait_for([](auto& xs) { return !xs.empty(); }, 20s));
  auto x = r.addresses->items().front();
  EXPECT_EQ(x.assembly, "a1");
  EXPECT_EQ(x.incarnation, 1u);
  EXPECT_EQ(x.addresses, std::vector<std::string>{"192.168.122.57"});
  EXPECT_EQ(r.wait_gone(200ms), "(not gone)");
}

TEST_F(gateway_test, flooding_guest_is_cut_off_and_others_are_unaffected) {
  runtime::guest_gateway_options opts;
  opts.messages_per_second = 10;
  opts.message_burst = 100;
  spawn_gateway(opts);
  auto& good = attach("good");
  test::agent_thread agent{channels["good"], "good"};
  ASSERT_TRUE(good.wait_hellos(1));
  auto& bad = attach("bad");
  scripted_peer flood{
    channels["bad"], "bad",
    wire::encode(wire::resource_state{"worker", "running", "spam"}), 100000};
  EXPECT_NE(bad.wait_gone().find("flooding"), std::string::npos)
    << bad.wait_gone();
  EXPECT_LE(bad.reports->items().size(), 100u);
  expect_healthy("good");
}

TEST_F(gateway_security, a_guest_opening_sessions_without_end_is_cut_off) {
  auto& good = attach("good");
  test::agent_thread agent{channels["good"], "good"};
  ASSERT_TRUE(good.wait_hellos(1));
  auto& bad = attach("bad");
  scripted_peer flood{channels["bad"], "bad", {}, 0, {}, 10000};
  EXPECT_NE(bad.wait_gone().find("more than 2 sessions"), std::string::npos)
    << bad.wait_gone();
  expect_healthy("good");
}

TEST_F(gateway_test, hung_guest_trips_the_idle_timeout) {
  runtime::guest_gateway_options opts;
  opts.idle_timeout = 400ms;
  spawn_gateway(opts);
  auto& r = attach("a1");
  scripted_peer peer{channels["a1"], "a1"};
  ASSERT_TRUE(r.wait_hellos(1));
  // Heartbeats keep a healthy but quiet guest linked well past the timeout.
  EXPECT_EQ(r.wait_gone(1200ms), "(not gone)");
  auto frozen_at = std::chrono::steady_clock::now();
  peer.freeze();
  EXPECT_NE(r.wait_gone().find("guest unresponsive"), std::string::npos)
    << r.wait_gone();
  auto detected = std::chrono::steady_clock::now() - frozen_at;
  EXPECT_LT(detected, 5s);
}

TEST_F(gateway_test, slowly_booting_guest_does_not_trip_the_idle_timeout) {
  runtime::guest_gateway_options opts;
  opts.idle_timeout = 200ms;
  spawn_gateway(opts);
  auto& r = attach("a1");
  // Connected to the channel, but nobody speaks for 5 idle timeouts.
  EXPECT_EQ(r.wait_gone(1s), "(not gone)");
  test::agent_thread agent{channels["a1"], "a1"};
  EXPECT_TRUE(r.wait_hellos(1));
  EXPECT_TRUE(r.gone->items().empty());
}

TEST_F(gateway_test, reconnected_agent_reports_its_resources_without_restart) {
  auto& r = attach("a1");
  test::agent_thread agent{channels["a1"], "a1"};
  ASSERT_TRUE(r.wait_hellos(1));
  command("a1", msg::resource_operation::start);
  ASSERT_TRUE(r.wait_report("worker", msg::resource_condition::running));
  auto before = r.reports->items().back().cause;
  // The host end goes away (pcloudd restarting) and comes back.
  caf::anon_send(gateway, msg::detach_atom::value, std::string{"a1"});
  auto& again = attach("a1");
  ASSERT_TRUE(again.wait_hellos(1));
  EXPECT_EQ(again.hellos->items().back().boot_id, "boot-1");
  ASSERT_TRUE(again.wait_report("worker", msg::resource_condition::running));
  // Same process: the agent reported it again instead of restarting it.
  EXPECT_EQ(again.reports->items().back().cause, before);
  EXPECT_GE(channels["a1"].connects(), 2);
}

} // namespace
