// Definitions to XML and back, and what the schema refuses.
#include "runtime/definitions_xml.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

namespace pcloud::runtime {
namespace {

using namespace std::chrono_literals;

class definitions_xml : public ::testing::Test {
protected:
  void SetUp() override {
    auto loaded = xml::schema::load(PCLOUD_CONF_DIR "/schema/definitions.rng");
    ASSERT_TRUE(loaded) << loaded.error();
    schema = std::make_unique<xml::schema>(std::move(*loaded));
  }

  static msg::assembly_spec sample_assembly() {
    msg::assembly_spec x;
    x.name = "assy1";
    x.uuid = "0f0e0d0c-0b0a-4908-8706-050403020100";
    x.jeos = "tiny";
    x.memory_mib = 256;
    x.vcpus = 2;
    x.boot_timeout = 90s;
    x.stop_timeout = 1500ms;
    x.network = "user";
    x.agent_transport = "tcp";
    x.escalation = msg::default_assembly_policy();
    msg::resource_spec r;
    r.name = "httpd";
    r.resource_class = "exec";
    r.type = "busybox httpd -f -p 80 -h /www \"<&>\"";
    r.parameters = {{"user", "www-data"}, {"env.LANG", "C"}};
    r.monitor_interval = 5s;
    r.monitor_timeout = 250ms;
    r.ports = {{"http", "tcp", 80, 20080}, {"dns", "udp", 53, 0}};
    r.probe.kind = "http";
    r.probe.port = 80;
    r.probe.path = "/health?full=1&x=<y>";
    r.probe.status_min = 200;
    r.probe.status_max = 299;
    r.probe.body = "ok";
    r.probe.interval = 2s;
    r.probe.timeout = 750ms;
    r.probe.failures = 4;
    r.probe.initial_delay = 5s;
    x.resources.push_back(r);
    r.ports.clear();
    r.probe = {};
    r.probe.kind = "command";
    r.probe.command = "test -f /run/dummy";
    r.name = "dummy";
    r.resource_class = "ocf";
    r.type = "heartbeat:Dummy";
    r.parameters = {};
    r.escalation = msg::no_escalation_policy();
    x.resources.push_back(r);
    return x;
  }

  std::unique_ptr<xml::schema> schema;
};

TEST_F(definitions_xml, assembly_round_trips) {
  auto x = sample_assembly();
  auto text = to_xml(x);
  auto back = assembly_from_xml(text, "assy1.xml", *schema);
  ASSERT_TRUE(back) << back.error() << "\n" << text;
  EXPECT_EQ(*back, x);
}

TEST_F(definitions_xml, deployable_round_trips) {
  msg::deployable_definition x;
  x.name = "dep1";
  x.assemblies = {"assy1", "assy2"};
  x.policy = msg::deployable_policy::stop;
  x.max_restarts = 3;
  x.restart_window = 2h;
  x.resource_escalation.max_failures = 7;
  x.running = true;
  auto text = to_xml(x);
  auto back = deployable_from_xml(text, "dep1.xml", *schema);
  ASSERT_TRUE(back) << back.error() << "\n" << text;
  EXPECT_EQ(*back, x);
}

TEST_F(definitions_xml, malformed_xml_names_file_and_line) {
  auto back
    = assembly_from_xml("<assembly name='a'\n  uuid=>", "a.xml", *schema);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().rfind("a.xml: line 2: ", 0), 0u) << back.error();
}

TEST_F(definitions_xml, schema_violations_name_file_and_line) {
  auto text = to_xml(sample_assembly());
  // A class the agent does not know, on the resource's line.
  auto pos = text.find("class=\"ocf\"");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 11, "class=\"bogus\"");
  auto line = 1 + std::count(text.begin(), text.begin() + pos, '\n');
  auto back = assembly_from_xml(text, "assy1.xml", *schema);
  ASSERT_FALSE(back);
  EXPECT_EQ(
    back.error().rfind("assy1.xml: line " + std::to_string(line) + ": ", 0), 0u)
    << back.error() << "\n"
    << text;
}

TEST_F(definitions_xml, refuses_bad_names_durations_and_roots) {
  auto good = to_xml(sample_assembly());
  auto edit = [&](std::string from, std::string to) {
    auto text = good;
    auto pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    text.replace(pos, from.size(), to);
    return assembly_from_xml(text, "x.xml", *schema);
  };
  EXPECT_FALSE(edit("name=\"assy1\"", "name=\"../etc/passwd\""));
  EXPECT_FALSE(edit("name=\"assy1\"", "name=\"\""));
  EXPECT_FALSE(edit("boot-timeout=\"90s\"", "boot-timeout=\"soon\""));
  EXPECT_FALSE(edit("uuid=\"0f0e", "uuid=\"zz0e"));
  EXPECT_FALSE(edit("memory-mib=\"256\"", "memory-mib=\"-1\""));
  EXPECT_FALSE(edit("guest=\"80\"", "guest=\"0\""));
  EXPECT_FALSE(edit("guest=\"80\"", "guest=\"65536\""));
  EXPECT_FALSE(edit("host=\"20080\"", "host=\"http\""));
  EXPECT_FALSE(edit("protocol=\"udp\"", "protocol=\"sctp\""));
  EXPECT_FALSE(edit("network=\"user\"", "network=\"a b\""));
  EXPECT_FALSE(edit("agent-transport=\"tcp\"", "agent-transport=\"udp\""));
  for (auto twice : {edit("name=\"dns\"", "name=\"http\""),
                     edit("protocol=\"udp\" guest=\"53\"",
                          "protocol=\"tcp\" guest=\"80\"")}) {
    ASSERT_FALSE(twice);
    EXPECT_NE(twice.error().find("given twice"), std::string::npos)
      << twice.error();
  }
  // A probe in a file gets the checks pcloudsh's would.
  auto probe = edit("timeout=\"750ms\"", "timeout=\"2s\"");
  ASSERT_FALSE(probe);
  EXPECT_NE(
    probe.error().find("probe timeout 2s is not below the interval (2s)"),
    std::string::npos)
    << probe.error();
  EXPECT_FALSE(edit("kind=\"http\"", "kind=\"ping\""));
  EXPECT_FALSE(edit("status=\"200-299\"", "status=\"2xx\""));
  auto dep = deployable_from_xml(good, "d.xml", *schema);
  ASSERT_FALSE(dep);
  EXPECT_NE(dep.error().find("expected <deployable>"), std::string::npos)
    << dep.error();
}

TEST_F(definitions_xml, duplicate_resources_are_refused) {
  auto x = sample_assembly();
  x.resources[1].name = "httpd";
  auto back = assembly_from_xml(to_xml(x), "assy1.xml", *schema);
  ASSERT_FALSE(back);
  EXPECT_NE(back.error().find("resource 'httpd' defined twice"),
            std::string::npos)
    << back.error();
}

TEST_F(definitions_xml, templates_of_conf_load) {
  auto text = R"(<template name="web" description="a web server">
  <variant jeos="tiny" class="exec" type="busybox httpd -f -p 80"/>
  <variant jeos="debian12" class="systemd" type="apache2.service"
           monitor-interval="5s"/>
</template>)";
  auto t = template_from_xml(text, "web.xml", *schema);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->name, "web");
  ASSERT_EQ(t->variants.size(), 2u);
  EXPECT_EQ(t->variants.at("debian12").type, "apache2.service");
  EXPECT_EQ(t->variants.at("debian12").monitor_interval, 5s);
}

TEST_F(definitions_xml, every_template_in_conf_loads_and_declares_its_ports) {
  namespace fs = std::filesystem;
  std::map<std::string, msg::resource_template> loaded;
  for (auto& entry : fs::directory_iterator{PCLOUD_CONF_DIR "/templates"}) {
    std::ifstream in{entry.path()};
    std::stringstream text;
    text << in.rdbuf();
    auto t = template_from_xml(text.str(), entry.path().filename(), *schema);
    ASSERT_TRUE(t) << t.error();
    EXPECT_EQ(t->name + ".xml", entry.path().filename().string());
    loaded[t->name] = *t;
  }
  ASSERT_EQ(loaded.count("httpd"), 1u);
  for (auto& [jeos, spec] : loaded["httpd"].variants) {
    ASSERT_EQ(spec.ports.size(), 1u) << jeos;
    EXPECT_EQ(spec.ports[0].guest_port, 80) << jeos;
    EXPECT_EQ(spec.ports[0].protocol, "tcp") << jeos;
    EXPECT_EQ(spec.ports[0].host_port, 0) << jeos << ": pcloudd allocates";
    // Readiness and liveness: answered GET / on its port, every second.
    EXPECT_EQ(spec.probe.kind, "http") << jeos;
    EXPECT_EQ(spec.probe.port, 80) << jeos;
    EXPECT_EQ(spec.probe.interval, 1s) << jeos;
  }
  // Every service with a TCP port says how to check it answers.
  for (auto& [name, t] : loaded) {
    for (auto& [jeos, spec] : t.variants) {
      if (!spec.ports.empty() && spec.ports[0].protocol == "tcp") {
        EXPECT_EQ(spec.probe.port, spec.ports[0].guest_port)
          << name << " on " << jeos << " has no probe of its port";
      }
    }
  }
}

} // namespace
} // namespace pcloud::runtime
