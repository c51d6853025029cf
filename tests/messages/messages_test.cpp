#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <gtest/gtest.h>

#include "messages/interfaces.hpp"
#include "tests/support/fakes.hpp"

using namespace std::chrono_literals;
using namespace pcloud;

namespace {

class messages_test : public ::testing::Test {
public:
  messages_test() : sys(cfg) {
    // nop
  }

  /// Serializes `x` as a remote link would and reads it back.
  template <class T>
  T round_trip(T x) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    if (auto err = sink(x)) {
      ADD_FAILURE() << "serialize: " << sys.render(err);
    }
    T result;
    caf::binary_deserializer source{sys, buf};
    if (auto err = source(result)) {
      ADD_FAILURE() << "deserialize: " << sys.render(err);
    }
    return result;
  }

  test::deterministic_config cfg;
  caf::actor_system sys;
};

msg::deployable_spec sample_deployable() {
  auto httpd = test::make_resource("httpd");
  httpd.parameters = {{"port", "80"}, {"docroot", "/srv/www"}};
  httpd.escalation = msg::default_resource_policy();
  auto a = test::make_assembly("assy1", {});
  a.resources.push_back(httpd);
  a.escalation = msg::no_escalation_policy();
  msg::deployable_spec d;
  d.name = "dep1";
  d.assemblies = {a, test::make_assembly("assy2", {"httpd", "db"})};
  d.policy = msg::deployable_policy::stop;
  return d;
}

} // namespace

TEST_F(messages_test, definitions_survive_serialization) {
  auto d = sample_deployable();
  auto copy = round_trip(d);
  EXPECT_EQ(copy, d);
  EXPECT_EQ(copy.assemblies[0].resources[0].parameters.at("docroot"),
            "/srv/www");
  EXPECT_FALSE(copy.assemblies[1].escalation);
}

TEST_F(messages_test, reports_and_events_survive_serialization) {
  msg::resource_report rep{"assy1", 7, "httpd",
                           msg::resource_condition::start_failed, "rc 1"};
  auto rep2 = round_trip(rep);
  EXPECT_EQ(rep2.incarnation, 7u);
  EXPECT_EQ(rep2.condition, msg::resource_condition::start_failed);
  EXPECT_EQ(rep2.cause, "rc 1");

  msg::domain_event dev{"assy1", 3, msg::domain_event_kind::crashed, "panic",
                        true};
  auto dev2 = round_trip(dev);
  EXPECT_EQ(dev2.kind, msg::domain_event_kind::crashed);
  EXPECT_TRUE(dev2.requested);

  msg::event ev;
  ev.sequence = 42;
  ev.deployable = "dep1";
  ev.assembly = "assy2";
  ev.resource = "httpd";
  ev.state = msg::state::recovering;
  ev.reason = "killed by signal 9";
  ev.downtime = 14ms;
  auto ev2 = round_trip(ev);
  EXPECT_EQ(msg::to_string(ev2), msg::to_string(ev));
  EXPECT_EQ(ev2.sequence, 42u);
  EXPECT_EQ(ev2.downtime, 14ms);

  msg::deployable_status st;
  st.name = "dep1";
  st.assemblies.push_back(
    {"assy1",
     msg::state::active,
     "",
     "assy1-3",
     3,
     2,
     1,
     {{"httpd", msg::state::active, "", 4, 1, "ok: status 200", 1}},
     {"fe80::1", "10.213.5.101"},
     "10.213.5.101"});
  auto st2 = round_trip(st);
  ASSERT_EQ(st2.assemblies.size(), 1u);
  EXPECT_EQ(st2.assemblies[0].resources[0].restarts, 4u);
  EXPECT_EQ(st2.assemblies[0].addresses,
            (std::vector<std::string>{"fe80::1", "10.213.5.101"}));
  EXPECT_EQ(st2.assemblies[0].service_address, "10.213.5.101");
}

TEST_F(messages_test, every_type_is_registered_under_its_name) {
  // A type missing from the block fails only at run time on a remote link.
  for (auto name : {"pcloud::msg::deployable_spec", "pcloud::msg::event",
                    "pcloud::msg::resource_report", "pcloud::msg::domain_event",
                    "pcloud::msg::deployable_status"}) {
    EXPECT_NE(sys.types().make_value(name), nullptr) << name;
  }
}

TEST(event_rendering, failure_with_intensity) {
  msg::event ev;
  ev.deployable = "dep1";
  ev.assembly = "assy2";
  ev.resource = "httpd";
  ev.state = msg::state::recovering;
  ev.reason = "killed by signal 9";
  ev.action = "restarting";
  ev.failures = 1;
  ev.max_failures = 5;
  ev.window = 60s;
  EXPECT_EQ(msg::to_string(ev), "dep1/assy2/httpd RECOVERING: killed by "
                                "signal 9 -> restarting (1 of 5 in 60s)");
}

TEST(event_rendering, deployable_event_without_limit) {
  msg::event ev;
  ev.deployable = "dep1";
  ev.state = msg::state::active;
  ev.reason = "all 3 assemblies active";
  EXPECT_EQ(msg::to_string(ev), "dep1 ACTIVE: all 3 assemblies active");
}

TEST(format_duration, picks_the_unit_people_read) {
  EXPECT_EQ(msg::format_duration(0s), "0s");
  EXPECT_EQ(msg::format_duration(14ms), "14 ms");
  EXPECT_EQ(msg::format_duration(1500ms), "1.50s");
  EXPECT_EQ(msg::format_duration(60s), "60s");
  EXPECT_EQ(msg::format_duration(300s), "300s");
  EXPECT_EQ(msg::format_duration(10min), "10min");
  EXPECT_EQ(msg::format_duration(1h), "1h");
  EXPECT_EQ(msg::format_duration(250us), "250 us");
}

TEST(deployable_policy, parses_what_it_prints) {
  for (auto p :
       {msg::deployable_policy::restart_all, msg::deployable_policy::stop}) {
    EXPECT_EQ(msg::parse_deployable_policy(msg::to_string(p)), p);
  }
  EXPECT_FALSE(msg::parse_deployable_policy("reboot"));
}

TEST(describe_port, brackets_an_ipv6_address) {
  msg::service_port http{"http", "tcp", 80, 0};
  EXPECT_EQ(msg::describe_port(http, "10.213.5.101", false),
            "http 10.213.5.101:80");
  EXPECT_EQ(msg::describe_port(http, "fd00:5::7", false),
            "http [fd00:5::7]:80");
  EXPECT_EQ(msg::describe_port(http, "", false), "http 80");
}
