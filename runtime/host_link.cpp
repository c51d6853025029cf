// runtime/host_link.cpp -- the agent link's protocol on the host end
// (host_link.hpp).
#include "runtime/host_link.hpp"

#include <caf/all.hpp>
#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/transport.hpp>
#include <spdlog/spdlog.h>

#include "guest/link/proof.hpp"
#include "runtime/agent_configuration.hpp"

namespace pcloud::runtime::detail {

namespace {

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

} // namespace

host_link::host_link(msg::domain_info info,
                     const std::vector<msg::resource_spec>& specs,
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
    if (!s.probe.kind.empty()) {
      probed_.insert(s.name);
    }
  }
}

void host_link::adopt(const host_link& attached) {
  info = attached.info;
  listener = attached.listener;
  config_ = attached.config_;
  names_ = attached.names_;
  probed_ = attached.probed_;
}

void host_link::account(size_t n) {
  if (n > 0 && !bytes_.take(static_cast<double>(n))) {
    violation("flooding (more than the byte budget per second)");
  }
}

void host_link::send(proton::message m) {
  outbox_.push_back(std::move(m));
  flush();
}

void host_link::on_connection_open(proton::connection& c) {
  if (!c.active()) {
    c.open();
  }
}

bool host_link::within_endpoint_limits(size_t& count, size_t most,
                                       const char* what) {
  if (++count > most) {
    violation("more than " + std::to_string(most) + " " + what
              + " (an agent opens one session and two links)");
    return false;
  }
  return true;
}

void host_link::on_session_open(proton::session& s) {
  if (within_endpoint_limits(sessions_, wire::limits::max_sessions, "sessions")
      && !s.active()) {
    s.open();
  }
}

void host_link::on_receiver_open(proton::receiver& r) {
  if (within_endpoint_limits(links_, wire::limits::max_links, "links")
      && !r.active()) {
    r.open(proton::receiver_options().credit_window(64));
  }
}

void host_link::on_sender_open(proton::sender& s) {
  if (!within_endpoint_limits(links_, wire::limits::max_links, "links")) {
    return;
  }
  if (!s.active()) {
    s.open();
  }
  sender_ = s;
}

void host_link::on_sendable(proton::sender& s) {
  sender_ = s;
  flush();
}

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
  } else if (auto* p = std::get_if<wire::proof>(&decoded.value)) {
    on_proof(*p);
  } else if (auto* a = std::get_if<wire::address_change>(&decoded.value)) {
    on_addresses(*a);
  } else if (auto* p = std::get_if<wire::probe_result>(&decoded.value)) {
    on_probe(*p);
  } else {
    on_state(std::get<wire::resource_state>(decoded.value));
  }
}

void host_link::on_transport_error(proton::transport& t) {
  end_with(t.error());
}

void host_link::on_connection_close(proton::connection& c) {
  end_with(c.error());
}

void host_link::on_error(const proton::error_condition& e) {
  end_with(e);
}

void host_link::end_with(const proton::error_condition& e) {
  if (!ended.empty()) {
    return;
  }
  auto what = e.description();
  // proton ends a link whose peer stayed silent past the idle timeout with
  // this condition ("local-idle-timeout expired").
  if (e.name() == "amqp:resource-limit-exceeded") {
    ended = "guest unresponsive: no traffic on the agent link within the "
            "idle timeout";
  } else if (e.name() == "eof") {
    ended = "agent channel closed";
  } else {
    ended = "agent link failed: " + (what.empty() ? e.name() : what);
  }
}

void host_link::violation(const std::string& why) {
  if (ended.empty()) {
    ended = "protocol violation: " + why;
    violated = true;
  }
}

void host_link::flush() {
  while (!outbox_.empty() && sender_ && sender_.active()
         && sender_.credit() > 0) {
    sender_.send(outbox_.front());
    outbox_.pop_front();
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
  if (hello_seen || challenged_) {
    violation("a second hello on the same connection");
    return;
  }
  if (claim) {
    challenge(h);
    return;
  }
  if (!h.assembly.empty() && h.assembly != info.assembly) {
    // A guest speaks for its own assembly only: the link says which.
    violation("the agent claims to be assembly '" + h.assembly
              + "' on the link of '" + info.assembly + "'");
    return;
  }
  welcome(h);
}

void host_link::challenge(const wire::hello& h) {
  // TCP: the connection says nothing; the hello names the assembly and the
  // agent proves its secret, after the host has proven it.
  if (h.assembly.empty()) {
    violation("a hello over TCP must name its assembly");
    return;
  }
  if (h.nonce.empty()) {
    violation("no nonce in the hello for assembly '" + h.assembly
              + "' (an agent without its secret)");
    return;
  }
  host_nonce_ = wire::make_nonce();
  auto secret = secret_for(h.assembly);
  // For an assembly not running here, a proof nobody can check: the same
  // answer either way, so a peer without the secret learns nothing about
  // what runs here.
  auto proof = secret.empty() ? wire::random_hex(wire::proof_digits / 2)
                              : wire::prove(wire::prover::host, secret,
                                            h.assembly, h.nonce, host_nonce_);
  challenged_ = h;
  send(wire::encode(wire::challenge{host_nonce_, proof}));
}

void host_link::on_proof(const wire::proof& p) {
  if (!challenged_ || hello_seen) {
    violation("a proof without a challenge");
    return;
  }
  auto& h = *challenged_;
  auto secret = secret_for(h.assembly);
  if (secret.empty()
      || !wire::same_proof(p.proof,
                           wire::prove(wire::prover::agent, secret, h.assembly,
                                       h.nonce, host_nonce_))) {
    violation("a wrong secret for assembly '" + h.assembly + "'");
    return;
  }
  std::string why;
  if (!claim(h, why)) {
    violation(why);
    return;
  }
  claim = nullptr;
  secret_for = nullptr;
  welcome(h);
}

void host_link::welcome(const wire::hello& h) {
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

void host_link::on_probe(const wire::probe_result& p) {
  if (!hello_seen) {
    violation("a probe result before hello");
    return;
  }
  if (probed_.count(p.resource) == 0) {
    violation("probe result for resource '" + p.resource
              + "', which has no probe in assembly " + info.assembly);
    return;
  }
  caf::anon_send(listener,
                 msg::probe_report{info.assembly, info.incarnation, p.resource,
                                   p.ok, p.failures, p.detail});
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

} // namespace pcloud::runtime::detail
