// The guest link's wire protocol: what both ends encode decodes to the same
// values, and what a guest could send wrongly is refused with a reason.
#include <gtest/gtest.h>
#include <proton/scalar.hpp>
#include <proton/types.hpp>
#include <proton/value.hpp>

#include "guest/link/proof.hpp"
#include "guest/link/wire.hpp"

using namespace pcloud;

namespace {

template <class T, class Variant>
T as(const wire::decoded<Variant>& d) {
  EXPECT_TRUE(d.ok()) << d.error;
  return std::get<T>(d.value);
}

std::string refusal(const proton::message& m) {
  auto d = wire::decode_from_agent(m);
  EXPECT_FALSE(d.ok());
  return d.error;
}

proton::message with_body(const char* subject,
                          std::map<std::string, proton::value> body) {
  proton::message m;
  m.subject(subject);
  m.properties().put("v", wire::protocol_version);
  m.body(std::move(body));
  return m;
}

TEST(wire, hello_round_trips) {
  wire::hello h;
  h.assembly = "web1";
  h.agent_version = "0.1.0";
  h.boot_id = "6e1c";
  h.addresses = {"10.0.2.15", "fe80::1"};
  auto x = as<wire::hello>(wire::decode_from_agent(wire::encode(h)));
  EXPECT_EQ(x.assembly, "web1");
  EXPECT_EQ(x.agent_version, "0.1.0");
  EXPECT_EQ(x.boot_id, "6e1c");
  EXPECT_EQ(x.addresses, h.addresses);
  EXPECT_EQ(x.nonce, "") << "a channel hello carries no nonce";
  h.nonce = wire::make_nonce();
  x = as<wire::hello>(wire::decode_from_agent(wire::encode(h)));
  EXPECT_EQ(x.nonce, h.nonce);
  for (auto bad : {std::string(65, 'f'), std::string(63, 'f'),
                   std::string(64, 'F'), std::string(64, 'g')}) {
    h.nonce = bad;
    EXPECT_NE(refusal(wire::encode(h))
                .find("field 'nonce' is not 64 lower-case hex digits"),
              std::string::npos)
      << bad;
  }
}

TEST(wire, proofs_round_trip_and_only_as_hex) {
  wire::proof p{wire::random_hex(32)};
  EXPECT_EQ(as<wire::proof>(wire::decode_from_agent(wire::encode(p))).proof,
            p.proof);
  wire::challenge c{wire::make_nonce(), wire::random_hex(32)};
  auto y = wire::decode_from_host(wire::encode(c));
  ASSERT_TRUE(y.ok()) << y.error;
  EXPECT_EQ(std::get<wire::challenge>(y.value).nonce, c.nonce);
  EXPECT_EQ(std::get<wire::challenge>(y.value).proof, c.proof);
  p.proof = "the secret itself";
  EXPECT_NE(refusal(wire::encode(p)).find("field 'proof' is not 64"),
            std::string::npos);
  c.nonce.clear();
  EXPECT_FALSE(wire::decode_from_host(wire::encode(c)).ok());
  // A challenge is the host's word, a proof the agent's: neither is taken
  // from the other side.
  EXPECT_FALSE(
    wire::decode_from_agent(
      wire::encode(wire::challenge{wire::make_nonce(), wire::random_hex(32)}))
      .ok());
  EXPECT_FALSE(
    wire::decode_from_host(wire::encode(wire::proof{wire::random_hex(32)}))
      .ok());
}

TEST(wire, hello_without_an_assembly_is_accepted) {
  wire::hello h;
  h.boot_id = "6e1c";
  auto x = as<wire::hello>(wire::decode_from_agent(wire::encode(h)));
  EXPECT_EQ(x.assembly, "");
  h.assembly = "../etc";
  EXPECT_EQ(refusal(wire::encode(h)),
            "hello: field 'assembly' is not a valid name");
}

TEST(wire, address_changes_round_trip_and_are_checked) {
  wire::address_change a{{"192.168.122.57", "fe80::5054:ff:fe0e:8f44"}};
  auto x = as<wire::address_change>(wire::decode_from_agent(wire::encode(a)));
  EXPECT_EQ(x.addresses, a.addresses);
  a.addresses.clear(); // the lease went away
  x = as<wire::address_change>(wire::decode_from_agent(wire::encode(a)));
  EXPECT_TRUE(x.addresses.empty());
  a.addresses.assign(wire::limits::max_addresses + 1, "10.0.0.1");
  EXPECT_NE(refusal(wire::encode(a)).find("more than"), std::string::npos);
  EXPECT_EQ(refusal(with_body("addresses", {})),
            "addresses: no field 'addresses'");
  std::vector<proton::value> numbers{proton::value{uint32_t{7}}};
  EXPECT_EQ(refusal(with_body("addresses", {{"addresses", numbers}})),
            "addresses: an address is not a string");
  std::vector<proton::value> bad{proton::value{std::string{"10.0.0.1\n"}}};
  EXPECT_EQ(refusal(with_body("addresses", {{"addresses", bad}})),
            "addresses: invalid address");
}

TEST(wire, resource_state_round_trips_through_bytes) {
  auto m = wire::encode(
    wire::resource_state{"httpd", "failed", "killed by signal 9 (SIGKILL)"});
  std::vector<char> bytes;
  m.encode(bytes);
  auto x = as<wire::resource_state>(
    wire::decode_from_agent(bytes.data(), bytes.size()));
  EXPECT_EQ(x.resource, "httpd");
  EXPECT_EQ(x.condition, "failed");
  EXPECT_EQ(x.cause, "killed by signal 9 (SIGKILL)");
}

TEST(wire, configure_and_command_round_trip) {
  wire::configure c;
  c.assembly = "web1";
  c.resources.push_back({"httpd",
                         "ocf",
                         "heartbeat:apache",
                         {{"port", "80"}, {"configfile", "/etc/h.conf"}},
                         5000,
                         15000,
                         {}});
  auto x = as<wire::configure>(wire::decode_from_host(wire::encode(c)));
  ASSERT_EQ(x.resources.size(), 1u);
  EXPECT_EQ(x.resources[0].type, "heartbeat:apache");
  EXPECT_EQ(x.resources[0].parameters, c.resources[0].parameters);
  EXPECT_EQ(x.resources[0].monitor_interval_ms, 5000u);
  EXPECT_EQ(x.resources[0].monitor_timeout_ms, 15000u);
  auto cmd = as<wire::command>(
    wire::decode_from_host(wire::encode(wire::command{"httpd", "restart"})));
  EXPECT_EQ(cmd.operation, "restart");
}

/// A configure of one exec resource with probe `p`.
wire::configure probed(wire::probe_definition p) {
  wire::configure c;
  c.assembly = "web1";
  wire::resource_definition r;
  r.name = "httpd";
  r.resource_class = "exec";
  r.type = "httpd -f";
  r.probe = std::move(p);
  c.resources.push_back(r);
  return c;
}

TEST(wire, probes_and_their_results_round_trip) {
  auto c
    = probed({"http", 80, "/healthz", 200, 299, "ok", "", 1000, 500, 3, 2000});
  auto x = as<wire::configure>(wire::decode_from_host(wire::encode(c)));
  ASSERT_EQ(x.resources.size(), 1u);
  EXPECT_EQ(x.resources[0].probe, c.resources[0].probe);
  auto p = as<wire::probe_result>(wire::decode_from_agent(
    wire::encode(wire::probe_result{"httpd", false, 2, "status 500"})));
  EXPECT_EQ(p.resource, "httpd");
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.failures, 2u);
  EXPECT_EQ(p.detail, "status 500");
}

TEST(wire, probes_that_cannot_run_are_refused) {
  auto refused = [](wire::probe_definition p) {
    auto d = wire::decode_from_host(wire::encode(probed(std::move(p))));
    EXPECT_FALSE(d.ok());
    return d.error;
  };
  wire::probe_definition ok;
  ok.kind = "tcp";
  ok.port = 80;
  auto p = ok;
  p.interval_ms = 50;
  EXPECT_EQ(refused(p), "configure: probe: interval 50ms is outside 100ms-1h");
  p = ok;
  p.timeout_ms = 1000;
  EXPECT_EQ(refused(p), "configure: probe: timeout 1000ms is not below the "
                        "interval (1000ms)");
  p = ok;
  p.port = 70000;
  EXPECT_EQ(refused(p), "configure: probe: port 70000 is outside 1-65535");
  p = ok;
  p.kind = "ping";
  EXPECT_EQ(refused(p), "configure: probe: kind 'ping' is not a probe kind "
                        "(tcp, http, command)");
  p = ok;
  p.kind = "http";
  p.path = "healthz";
  EXPECT_EQ(refused(p),
            "configure: probe: path 'healthz' does not start with /");
  p = ok;
  p.failures = 0;
  EXPECT_EQ(refused(p), "configure: probe: failures 0 is outside 1-100");
}

TEST(wire, other_protocol_versions_are_refused) {
  auto m = wire::encode(wire::resource_state{"httpd", "running", ""});
  // Version 1 had no probes: its agents would refuse a configure with one.
  m.properties().put("v", uint32_t{1});
  EXPECT_NE(refusal(m).find("protocol version 1 is not supported"),
            std::string::npos);
  m.properties().clear();
  EXPECT_EQ(refusal(m), "no protocol version");
}

TEST(wire, unknown_message_types_and_fields_are_refused) {
  EXPECT_EQ(refusal(with_body("reboot", {})), "unknown message type 'reboot'");
  // A host message coming from a guest is not a guest message.
  EXPECT_EQ(refusal(wire::encode(wire::command{"httpd", "stop"})),
            "unknown message type 'command'");
  EXPECT_EQ(
    refusal(with_body("resource", {{"resource", std::string{"a"}},
                                   {"condition", std::string{"running"}},
                                   {"shell", std::string{"rm -rf /"}}})),
    "resource: unknown field 'shell'");
}

TEST(wire, wrong_field_types_and_values_are_refused) {
  EXPECT_EQ(
    refusal(with_body(
      "resource", {{"resource", 42}, {"condition", std::string{"running"}}})),
    "resource: field 'resource' is not a string");
  EXPECT_EQ(
    refusal(with_body("resource", {{"resource", std::string{"a"}},
                                   {"condition", std::string{"exploded"}}})),
    "resource: unknown condition 'exploded'");
  EXPECT_EQ(
    refusal(with_body("resource", {{"resource", std::string{"../x"}},
                                   {"condition", std::string{"running"}}})),
    "resource: field 'resource' is not a valid name");
  EXPECT_EQ(refusal(with_body("hello", {{"assembly", std::string{"a\nb"}},
                                        {"agent_version", std::string{}},
                                        {"boot_id", std::string{}}})),
            "hello: field 'assembly' has control characters");
  proton::message not_a_map;
  not_a_map.subject("hello");
  not_a_map.properties().put("v", wire::protocol_version);
  not_a_map.body(std::string{"hi"});
  EXPECT_EQ(refusal(not_a_map), "hello: body is not a map");
}

TEST(wire, limits_are_enforced) {
  auto long_cause = std::string(wire::limits::max_text + 1, 'x');
  EXPECT_NE(
    refusal(wire::encode(wire::resource_state{"httpd", "failed", long_cause}))
      .find("longer than"),
    std::string::npos);
  wire::hello h;
  h.assembly = "a";
  h.addresses.assign(wire::limits::max_addresses + 1, "10.0.0.1");
  EXPECT_NE(refusal(wire::encode(h)).find("more than"), std::string::npos);
  std::vector<char> huge(wire::limits::max_message_bytes + 1, 0);
  auto d = wire::decode_from_agent(huge.data(), huge.size());
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.error.find("larger than"), std::string::npos);
}

TEST(wire, garbage_bytes_are_refused_not_crashed_on) {
  std::string garbage = "\x00\x53\x70\xc0\xff\xff\xff\xff garbage";
  auto d = wire::decode_from_agent(garbage.data(), garbage.size());
  EXPECT_FALSE(d.ok());
  EXPECT_FALSE(d.error.empty());
}

} // namespace
