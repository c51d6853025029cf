// The shell service's plain functions, without an actor system: checks,
// lookups and their error codes, host port planning, what the operator sees.
#include "actors/shell/catalog.hpp"

#include <gtest/gtest.h>

using namespace pcloud;
using namespace pcloud::actors;
using msg::errc;

namespace {

msg::resource_spec web(std::string name, uint16_t guest, uint16_t host = 0) {
  msg::resource_spec r;
  r.name = std::move(name);
  r.resource_class = "exec";
  r.type = "httpd";
  msg::service_port p;
  p.name = "http";
  p.guest_port = guest;
  p.host_port = host;
  r.ports.push_back(p);
  return r;
}

catalog two_assemblies() {
  catalog defs;
  msg::assembly_spec a;
  a.name = "a1";
  a.jeos = "tiny";
  a.resources.push_back(web("www", 80, 20080));
  defs.assemblies["a1"] = a;
  a.name = "a2";
  a.resources = {web("www", 80)};
  defs.assemblies["a2"] = a;
  msg::deployable_definition d;
  d.name = "dep";
  d.assemblies = {"a1"};
  defs.deployables["dep"] = d;
  return defs;
}

} // namespace

TEST(shell_catalog, names_are_checked_once_with_a_clear_error) {
  EXPECT_TRUE(valid_name("assy-1.web_2"));
  for (auto bad : {"", "-a", ".a", "a/b", "../a", "a b", "a\xff"}) {
    EXPECT_FALSE(valid_name(bad)) << bad;
    EXPECT_EQ(check_new_name("assembly", bad).code, errc::invalid_argument);
  }
  EXPECT_FALSE(valid_name(std::string(64, 'a')));
  EXPECT_TRUE(valid_name(std::string(63, 'a')));
  EXPECT_FALSE(check_new_name("assembly", "ok"));
  EXPECT_EQ(check_arch("arm64").code, errc::invalid_argument);
  EXPECT_FALSE(check_arch("x86_64"));
}

TEST(shell_catalog, lookups_say_not_found_and_running_says_wrong_state) {
  auto defs = two_assemblies();
  msg::error err;
  EXPECT_EQ(find_assembly(defs, "nope", err), nullptr);
  EXPECT_EQ(err.code, errc::not_found);
  EXPECT_EQ(err.message, "no assembly named 'nope' (assembly_list shows them)");
  EXPECT_NE(find_deployable(defs, "dep", err), nullptr);
  EXPECT_EQ(find_resource(defs.assemblies["a1"], "db", err), nullptr);
  EXPECT_EQ(err.code, errc::not_found);
  EXPECT_EQ(owner_of(defs, "a1"), "dep");
  EXPECT_EQ(owner_of(defs, "a2"), "");
  EXPECT_FALSE(check_not_running(defs, "a1"));
  defs.deployables["dep"].running = true;
  auto bad = check_not_running(defs, "a1");
  EXPECT_EQ(bad.code, errc::wrong_state);
  EXPECT_EQ(bad.message, "assembly 'a1' runs in deployable 'dep' "
                         "(deployable_stop dep first)");
  EXPECT_EQ(users_of_jeos(defs, "tiny"),
            (std::vector<std::string>{"a1", "a2"}));
  msg::error missing;
  defs.deployables["dep"].assemblies.push_back("gone");
  spec_of(defs, defs.deployables["dep"], missing);
  EXPECT_EQ(missing.code, errc::not_found);
}

TEST(shell_catalog, host_ports_are_planned_around_those_held) {
  auto defs = two_assemblies();
  defs.network.first_port = 20000;
  defs.network.last_port = 20100;
  EXPECT_EQ(holder_of(defs, "20080/tcp"), "a1/www (http)");
  EXPECT_EQ(holder_of(defs, "20080/tcp", "a1"), "");
  auto draft = defs.assemblies["a2"];
  auto candidates = port_candidates(defs, draft);
  ASSERT_FALSE(candidates.empty());
  // 20080 is a1's: the next one above it comes first.
  EXPECT_EQ(candidates.front().host_port, 20081);
  EXPECT_LE(candidates.size(), 32u);
  EXPECT_FALSE(assign_ports(defs, draft, candidates));
  EXPECT_EQ(draft.resources[0].ports[0].host_port, 20081);
  auto none = defs.assemblies["a2"];
  auto err = assign_ports(defs, none, {});
  EXPECT_EQ(err.code, errc::in_use);
  EXPECT_EQ(err.message, "no free host port for www (80/tcp) in 20000-20100");
}

TEST(shell_catalog, ports_and_settings_are_parsed_with_invalid_argument) {
  uint16_t port = 0;
  std::string protocol;
  EXPECT_FALSE(parse_port("53/udp", "PORT", port, &protocol));
  EXPECT_EQ(port, 53);
  EXPECT_EQ(protocol, "udp");
  for (auto bad : {"0", "65536", "80/sctp", "", "http", "123456"}) {
    EXPECT_EQ(parse_port(bad, "PORT", port, &protocol).code,
              errc::invalid_argument)
      << bad;
  }
  catalog defs;
  msg::assembly_spec x;
  x.name = "a1";
  std::string message;
  EXPECT_FALSE(apply_setting(defs, x, "memory", "1024", message));
  EXPECT_EQ(x.memory_mib, 1024u);
  EXPECT_EQ(message, "assembly a1: memory 1024 MiB");
  EXPECT_EQ(apply_setting(defs, x, "memory", "1", message).code,
            errc::invalid_argument);
  EXPECT_EQ(apply_setting(defs, x, "colour", "red", message).code,
            errc::invalid_argument);
  EXPECT_EQ(apply_setting(defs, x, "transport", "tcp", message).code,
            errc::wrong_state)
    << "no agent listener";
  defs.network.agent_port = 49000;
  EXPECT_FALSE(apply_setting(defs, x, "transport", "tcp", message));
  EXPECT_EQ(x.agent_transport, "tcp");
  msg::deployable_definition d;
  d.name = "dep";
  EXPECT_FALSE(apply_escalation(d, true, "0", "1h", "", message));
  EXPECT_EQ(message, "resource escalation of dep: never escalate, restart "
                     "delay 500 ms");
  EXPECT_FALSE(apply_escalation(d, false, "3", "5min", "2s", message));
  EXPECT_EQ(message, "assembly escalation of dep: 3 failures in 300s, restart "
                     "delay 2s");
  EXPECT_EQ(d.assembly_escalation.backoff_initial, std::chrono::seconds(2));
  auto before = d;
  EXPECT_EQ(apply_escalation(d, true, "-1", "1h", "", message).code,
            errc::invalid_argument);
  EXPECT_EQ(apply_escalation(d, false, "3", "soon", "", message).code,
            errc::invalid_argument);
  for (auto delay : {"-1s", "soon", "2h"}) {
    auto err = apply_escalation(d, false, "3", "5min", delay, message);
    EXPECT_EQ(err.code, errc::invalid_argument) << delay;
    EXPECT_EQ(err.message, std::string{"DELAY must be a duration of at most "
                                       "1h such as 500ms or 2s, not '"}
                             + delay + "'");
  }
  EXPECT_EQ(d, before) << "a refused setting changed the deployable";
}

TEST(shell_catalog, the_operator_sees_where_services_answer) {
  auto defs = two_assemblies();
  auto& a1 = defs.assemblies["a1"];
  EXPECT_EQ(endpoints_of(defs, a1, a1.resources[0]),
            "http 127.0.0.1:20080 -> 80");
  a1.network = "default";
  EXPECT_EQ(endpoints_of(defs, a1, a1.resources[0], {"fe80::1", "10.0.0.7"}),
            "http 10.0.0.7:80");
  a1.network = msg::no_network;
  EXPECT_EQ(endpoints_of(defs, a1, a1.resources[0]), "(no network)");
  auto rows = deployable_rows(defs);
  ASSERT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(rows.rows[0], (std::vector<std::string>{"dep", "a1", "no"}));
  auto s = never_started(defs, "dep");
  EXPECT_EQ(s.reason, "not started");
  ASSERT_EQ(s.assemblies.size(), 1u);
  EXPECT_EQ(s.assemblies[0].resources.size(), 1u);
  msg::shell_reply status
    = table({"path", "state", "restarts", "domain", "service", "reason"});
  add_status_rows(defs, status, s);
  EXPECT_EQ(status.rows.size(), 3u);
  EXPECT_EQ(status.rows[2][0], "dep/a1/www");
}
