// The host end of one assembly's agent link: the proton handler that checks
// everything the guest says (budgets, hello, reports of its own resources),
// turns it into messages for the assembly's actors, and records why the link
// ended. Apart from guest_gateway.cpp, which owns the links, their I/O thread
// and the TCP listener, because this is the protocol and that is the wiring.
// Internal to the guest gateway (namespace detail).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/sender.hpp>

#include "guest/link/amqp_stream.hpp"
#include "guest/link/event_loop.hpp"
#include "guest/link/wire.hpp"
#include "messages/interfaces.hpp"
#include "runtime/guest_gateway.hpp"

namespace pcloud::runtime::detail {

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
  using clock_type = std::chrono::steady_clock;

  double rate_;
  double capacity_;
  double tokens_;
  clock_type::time_point last_ = clock_type::now();
};

/// The host end of one assembly's agent link.
class host_link : public proton::messaging_handler {
public:
  host_link(msg::domain_info info, const std::vector<msg::resource_spec>& specs,
            msg::guest_listener_actor listener,
            const guest_gateway_options& opts, guest::event_loop& loop);

  /// Takes over an attached assembly's identity: a TCP connection whose
  /// agent proved it is that assembly's.
  void adopt(const host_link& attached);

  /// Counts bytes read against the byte budget.
  void account(size_t n);

  void send(proton::message m);

  msg::domain_info info;
  msg::guest_listener_actor listener;
  std::unique_ptr<guest::amqp_stream> stream;
  /// Why the link is over; the service closes it after the current I/O.
  std::string ended;
  bool violated = false;
  bool hello_seen = false;
  bool connect_failure_logged = false;
  /// Set while this is a TCP connection that has not proven its assembly.
  /// `secret_for` tells the secret of the current incarnation of an
  /// assembly attached here (empty for any other, and for one on its
  /// channel); once the agent proved it, `claim` checks the rest and, when
  /// it holds, makes this the assembly's link.
  std::function<std::string(const std::string& assembly)> secret_for;
  std::function<bool(const wire::hello&, std::string& why)> claim;
  /// Where a TCP connection came from (ADDRESS:PORT and ADDRESS), for the
  /// log.
  std::string peer;
  std::string peer_address;
  /// The order it was accepted in, among TCP connections (oldest first).
  uint64_t accepted = 0;
  guest::scoped_timer tick_timer;
  guest::scoped_timer retry_timer;

private:
  void on_connection_open(proton::connection& c) override;
  void on_session_open(proton::session& s) override;
  void on_receiver_open(proton::receiver& r) override;
  void on_sender_open(proton::sender& s) override;
  void on_sendable(proton::sender& s) override;
  void on_message(proton::delivery&, proton::message& m) override;
  void on_transport_error(proton::transport& t) override;
  void on_connection_close(proton::connection& c) override;
  /// proton's default throws; an error on any endpoint ends the link.
  void on_error(const proton::error_condition& e) override;

  void end_with(const proton::error_condition& e);
  void violation(const std::string& why);
  void flush();

  /// False (and the link ended) once the guest opened more sessions or
  /// links than an agent uses: each costs memory in proton.
  bool within_endpoint_limits(size_t& count, size_t most, const char* what);

  void on_hello(const wire::hello& h);
  /// TCP: answers a hello with the host's proof and nonce.
  void challenge(const wire::hello& h);
  void on_proof(const wire::proof& p);
  /// The agent is who it says: configure it and tell its assembly.
  void welcome(const wire::hello& h);
  void on_state(const wire::resource_state& s);
  void on_probe(const wire::probe_result& p);
  void on_addresses(const wire::address_change& x);

  token_bucket bytes_;
  token_bucket messages_;
  size_t sessions_ = 0;
  size_t links_ = 0;
  wire::configure config_;
  std::set<std::string> names_;
  /// The resources that have a probe: only they may report probe results.
  std::set<std::string> probed_;
  proton::sender sender_;
  std::deque<proton::message> outbox_;
  /// TCP: the hello that was challenged, and the host's nonce.
  std::optional<wire::hello> challenged_;
  std::string host_nonce_;
};

} // namespace pcloud::runtime::detail
