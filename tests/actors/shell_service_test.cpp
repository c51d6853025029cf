// The shell service on the deterministic scheduler: tokens, validation,
// persistence before the reply, rollback when the store fails, and the
// deployables it starts and stops.
#include "actors/shell_service.hpp"

#include "tests/support/tree_fixture.hpp"

using namespace pcloud;
using namespace pcloud::test;

namespace {

/// An in-memory store that can be told to fail its writes.
struct store_script {
  std::map<std::string, msg::assembly_spec> assemblies;
  std::map<std::string, msg::deployable_definition> deployables;
  bool fail_writes = false;
};

msg::store_actor spawn_fake_store(caf::actor_system& sys,
                                  std::shared_ptr<store_script> s) {
  // The script as a spawn argument: CAF 0.17 dereferences a null argument
  // tuple for a lambda spawned without arguments (UBSan).
  return sys.spawn(
    [](msg::store_actor::pointer,
       std::shared_ptr<store_script> s) -> msg::store_actor::behavior_type {
      auto refuse
        = [] { return caf::make_error(caf::sec::runtime_error, "disk full"); };
      return {
        [s](caf::get_atom) { return msg::definitions{}; },
        [s, refuse](caf::put_atom,
                    msg::assembly_spec x) -> caf::result<caf::ok_atom> {
          if (s->fail_writes) {
            return refuse();
          }
          s->assemblies[x.name] = x;
          return caf::ok_atom::value;
        },
        [s, refuse](caf::put_atom,
                    msg::deployable_definition x) -> caf::result<caf::ok_atom> {
          if (s->fail_writes) {
            return refuse();
          }
          s->deployables[x.name] = x;
          return caf::ok_atom::value;
        },
        [s, refuse](caf::delete_atom,
                    const msg::assembly_spec& x) -> caf::result<caf::ok_atom> {
          if (s->fail_writes) {
            return refuse();
          }
          s->assemblies.erase(x.name);
          return caf::ok_atom::value;
        },
        [s, refuse](caf::delete_atom, const msg::deployable_definition& x)
          -> caf::result<caf::ok_atom> {
          if (s->fail_writes) {
            return refuse();
          }
          s->deployables.erase(x.name);
          return caf::ok_atom::value;
        },
      };
    },
    s);
}

/// Two built JEOS: tiny, and debian12 with its recipe's defaults.
msg::image_store_actor spawn_fake_images(caf::actor_system& sys) {
  return sys.spawn(
    [](msg::image_store_actor::pointer,
       std::string arch) -> msg::image_store_actor::behavior_type {
      return {
        [arch](caf::get_atom) {
          return std::vector<msg::jeos_info>{
            {"tiny", "tiny", arch, "recipe", true, "/images/tiny"},
            {"debian12", "debian12", arch, "recipe", true, "/images/debian12",
             512, 2, 240}};
        },
        [](msg::create_atom, const std::string& d,
           const std::string& a) -> caf::result<msg::jeos_info> {
          return msg::jeos_info{d, d, a, "recipe", true, "/images/" + d};
        },
        [](msg::import_atom, const std::string& n,
           const std::string& f) -> caf::result<msg::jeos_info> {
          return msg::jeos_info{n, "imported", "x86_64", "imported", true, f};
        },
        [](caf::delete_atom, const std::string&) {
          return caf::ok_atom::value;
        },
      };
    },
    std::string{"x86_64"});
}

const std::string token = std::string(64, 'k');

class shell_service_test : public tree_fixture {
public:
  shell_service_test() {
    store = spawn_fake_store(sys, stored);
    images = spawn_fake_images(sys);
    msg::resource_template dummy;
    dummy.name = "dummy";
    dummy.variants["tiny"] = make_resource("");
    msg::resource_template web;
    web.name = "web";
    web.variants["tiny"] = make_resource("");
    web.variants["tiny"].ports.push_back({"http", "tcp", 80, 0});
    service = sys.spawn(actors::shell_service, token,
                        actors::shell_services{
                          store, images, bus, hypervisor, gateway, {}, {}, {}},
                        std::vector<msg::resource_template>{dummy, web},
                        msg::definitions{}, uint64_t{42});
    sched.run();
  }

  ~shell_service_test() override {
    caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(images, caf::exit_reason::user_shutdown);
    sched.run();
  }

  msg::shell_reply call(std::string command, std::vector<std::string> args,
                        std::string with_token = token) {
    msg::shell_reply result;
    result.code = msg::errc::internal;
    result.message = "(no reply)";
    caf::scoped_actor self{sys};
    auto pending = self->request(
      service, caf::infinite,
      msg::shell_request{with_token, std::move(command), std::move(args)});
    sched.run();
    pending.receive([&](msg::shell_reply& r) { result = std::move(r); },
                    [&](caf::error& err) { result.message = to_string(err); });
    return result;
  }

  /// The first column of a list command's rows.
  std::vector<std::string> names(std::string command) {
    std::vector<std::string> result;
    for (auto& row : call(std::move(command), {}).rows) {
      result.push_back(row.at(0));
    }
    return result;
  }

  std::shared_ptr<store_script> stored = std::make_shared<store_script>();
  msg::store_actor store;
  msg::image_store_actor images;
  msg::shell_service_actor service;
};

} // namespace

TEST(shell_tokens, compare_in_constant_time_and_refuse_empty) {
  EXPECT_TRUE(actors::tokens_equal("abc", "abc"));
  EXPECT_FALSE(actors::tokens_equal("abc", "abd"));
  EXPECT_FALSE(actors::tokens_equal("abc", "abcd"));
  EXPECT_FALSE(actors::tokens_equal("", ""));
}

TEST(shell_names, follow_the_schema) {
  EXPECT_TRUE(actors::valid_name("assy-1.web_2"));
  EXPECT_FALSE(actors::valid_name("-a"));
  EXPECT_FALSE(actors::valid_name("a/b"));
  EXPECT_FALSE(actors::valid_name(std::string(64, 'a')));
  EXPECT_FALSE(actors::valid_name(""));
}

TEST_F(shell_service_test, every_request_needs_the_token) {
  for (auto wrong : {std::string{}, std::string(64, 'x'), token + "x"}) {
    auto r = call("deployable_create", {"dep1"}, wrong);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.message, "not authorized: wrong or missing token");
  }
  EXPECT_TRUE(stored->deployables.empty());
  caf::scoped_actor self{sys};
  auto pending = self->request(
    service, caf::infinite, caf::subscribe_atom::value, std::string{"bad"},
    caf::actor_cast<msg::event_listener_actor>(recorder));
  sched.run();
  bool refused = false;
  pending.receive([](std::vector<msg::event>&) {},
                  [&](caf::error&) { refused = true; });
  EXPECT_TRUE(refused);
}

TEST_F(shell_service_test, a_reply_comes_after_the_store_has_the_change) {
  auto r = call("assembly_create", {"assy1", "tiny", "x86_64"});
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(stored->assemblies.count("assy1"), 1u);
  EXPECT_EQ(stored->assemblies["assy1"].jeos, "tiny");
  EXPECT_EQ(stored->assemblies["assy1"].uuid.size(), 36u);
}

TEST_F(shell_service_test, an_assembly_starts_with_its_jeos_defaults) {
  auto r = call("assembly_create", {"small", "tiny", "x86_64"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(stored->assemblies["small"].memory_mib, 128u);
  EXPECT_EQ(stored->assemblies["small"].vcpus, 1u);
  r = call("assembly_create", {"big", "debian12", "x86_64"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_NE(r.message.find("512 MiB, 2 vCPU"), std::string::npos) << r.message;
  auto& big = stored->assemblies["big"];
  EXPECT_EQ(big.memory_mib, 512u);
  EXPECT_EQ(big.vcpus, 2u);
  EXPECT_EQ(big.boot_timeout, caf::timespan{std::chrono::seconds(240)});
}

TEST_F(shell_service_test, assembly_set_changes_one_setting_or_nothing) {
  ASSERT_TRUE(call("assembly_create", {"a1", "tiny", "x86_64"}).ok());
  auto r = call("assembly_set", {"a1", "memory", "1024"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.message, "assembly a1: memory 1024 MiB");
  ASSERT_TRUE(call("assembly_set", {"a1", "vcpus", "2"}).ok());
  ASSERT_TRUE(call("assembly_set", {"a1", "boot_timeout", "5min"}).ok());
  auto& x = stored->assemblies["a1"];
  EXPECT_EQ(x.memory_mib, 1024u);
  EXPECT_EQ(x.vcpus, 2u);
  EXPECT_EQ(x.boot_timeout, caf::timespan{std::chrono::minutes(5)});
  for (auto [setting, value, message] : {
         std::tuple{"memory", "12",
                    "memory must be a number from 64 to "
                    "1048576, not '12'"},
         std::tuple{"vcpus", "-1",
                    "vcpus must be a number from 1 to 64, not "
                    "'-1'"},
         std::tuple{"stop_timeout", "soon",
                    "stop_timeout must be a duration "
                    "such as 240s or 5min, not 'soon'"},
         std::tuple{"colour", "red",
                    "unknown setting 'colour' (settings: "
                    "memory, vcpus, boot_timeout, "
                    "stop_timeout, transport)"},
         std::tuple{"transport", "tcp",
                    "pcloudd has no agent listener for the tcp transport "
                    "(start it with --agent-listen ADDR[:PORT])"},
         std::tuple{"transport", "carrier-pigeon",
                    "transport must be channel, tcp or none, not "
                    "'carrier-pigeon'"},
       }) {
    r = call("assembly_set", {"a1", setting, value});
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.message, message);
  }
  EXPECT_EQ(stored->assemblies["a1"].memory_mib, 1024u) << "nothing changed";
  EXPECT_EQ(stored->assemblies["a1"].vcpus, 2u);
  EXPECT_FALSE(call("assembly_set", {"nope", "vcpus", "2"}).ok());
  EXPECT_TRUE(stored->assemblies["a1"].agent_transport.empty());
}

TEST_F(shell_service_test,
       transport_tcp_is_for_a_daemon_with_an_agent_listener) {
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
  actors::network_settings network;
  network.agent_port = 49000;
  service = sys.spawn(
    actors::shell_service, token,
    actors::shell_services{
      store, images, bus, hypervisor, gateway, {}, network, {}},
    std::vector<msg::resource_template>{}, msg::definitions{}, uint64_t{42});
  sched.run();
  ASSERT_TRUE(call("assembly_create", {"a1", "tiny", "x86_64"}).ok());
  auto r = call("assembly_set", {"a1", "transport", "tcp"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.message, "assembly a1: transport tcp");
  EXPECT_EQ(stored->assemblies["a1"].agent_transport, "tcp");
  ASSERT_TRUE(call("assembly_set", {"a1", "transport", "channel"}).ok());
  EXPECT_TRUE(stored->assemblies["a1"].agent_transport.empty());
}

TEST_F(shell_service_test, transport_none_is_an_assembly_without_an_agent) {
  ASSERT_TRUE(call("assembly_create", {"a1", "tiny", "x86_64"}).ok());
  auto r = call("assembly_set", {"a1", "transport", "none"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.message, "assembly a1: transport none");
  EXPECT_EQ(stored->assemblies["a1"].agent_transport, msg::no_agent);
  auto list = call("assembly_list", {});
  ASSERT_EQ(list.rows.size(), 1u);
  EXPECT_NE(std::find(list.rows[0].begin(), list.rows[0].end(), "none"),
            list.rows[0].end())
    << "the list shows that it has no agent";
}

TEST_F(shell_service_test, a_failed_write_changes_nothing) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  stored->fail_writes = true;
  auto r = call("assembly_create", {"assy2", "tiny", "x86_64"});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.message, "not saved: disk full");
  r = call("assembly_resource_add", {"web", "dummy", "assy1"});
  EXPECT_FALSE(r.ok());
  r = call("assembly_delete", {"assy1"});
  EXPECT_EQ(r.message, "not deleted: disk full");
  EXPECT_EQ(names("assembly_list"), std::vector<std::string>{"assy1"});
  EXPECT_EQ(call("assembly_resource_list", {"assy1"}).rows.size(), 0u);
}

TEST_F(shell_service_test, argument_counts_come_from_the_command_table) {
  auto r = call("assembly_create", {"assy1"});
  EXPECT_EQ(r.message, "usage: assembly_create NAME JEOS ARCH");
  r = call("help", {});
  EXPECT_EQ(r.message, "unknown command 'help' (help lists them)")
    << "pcloudsh serves its local commands itself";
  r = call("deployable_status", {"a", "b"});
  EXPECT_EQ(r.message, "usage: deployable_status [NAME]");
}

TEST_F(shell_service_test, starts_and_stops_a_deployable_and_persists_it) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  ASSERT_TRUE(call("assembly_resource_add", {"web", "dummy", "assy1"}).ok());
  ASSERT_TRUE(call("deployable_create", {"dep1"}).ok());
  ASSERT_TRUE(call("deployable_assembly_add", {"dep1", "assy1"}).ok());
  auto r = call("deployable_start", {"dep1"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_TRUE(stored->deployables["dep1"].running);
  EXPECT_EQ(hv->count("start assy1"), 1u);
  auto status = call("deployable_status", {"dep1"});
  ASSERT_EQ(status.rows.size(), 3u);
  EXPECT_EQ(status.rows[2][0], "dep1/assy1/web");
  EXPECT_EQ(status.rows[2][1], "ACTIVE");
  // Changing a running deployable's parts is refused.
  r = call("assembly_resource_remove", {"web", "assy1"});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.message.find("deployable_stop dep1 first"), std::string::npos);
  EXPECT_FALSE(call("deployable_delete", {"dep1"}).ok());
  EXPECT_FALSE(call("deployable_start", {"dep1"}).ok());
  r = call("deployable_stop", {"dep1"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.message, "deployable dep1 stopped");
  EXPECT_FALSE(stored->deployables["dep1"].running);
  EXPECT_EQ(hv->count("shutdown assy1"), 1u);
  EXPECT_EQ(call("deployable_status", {"dep1"}).rows[0][1], "STOPPED");
}

using shell_service_security = shell_service_test;

TEST_F(shell_service_security, a_dead_tree_is_restarted_and_really_stops) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  ASSERT_TRUE(call("assembly_resource_add", {"web", "dummy", "assy1"}).ok());
  ASSERT_TRUE(call("deployable_create", {"dep1"}).ok());
  ASSERT_TRUE(call("deployable_assembly_add", {"dep1", "assy1"}).ok());
  ASSERT_TRUE(call("deployable_start", {"dep1"}).ok());
  ASSERT_EQ(hv->count("start assy1"), 1u);
  // The assembly actor dies by a bug (an exception: kill would pass
  // through every link): its deployable goes down with it,
  // and the shell service, its supervisor, starts a new tree that adopts
  // the VM.
  caf::anon_send_exit(hv->listeners.at("assy1"),
                      caf::exit_reason::unhandled_exception);
  sched.run();
  EXPECT_EQ(hv->count("start assy1"), 2u)
    << "a new tree took over" << ::testing::PrintToString(hv->calls);
  auto status = call("deployable_status", {"dep1"});
  ASSERT_EQ(status.rows.size(), 3u) << status.message;
  EXPECT_EQ(status.rows[2][1], "ACTIVE");
  auto r = call("deployable_stop", {"dep1"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(hv->count("shutdown assy1"), 1u) << "the stop really happened";
  // A tree that keeps dying is given up on after the budget; a stop then
  // still stops its VM.
  ASSERT_TRUE(call("deployable_start", {"dep1"}).ok());
  for (size_t i = 0; i < 10; ++i) {
    caf::anon_send_exit(hv->listeners.at("assy1"),
                        caf::exit_reason::unhandled_exception);
    sched.run();
  }
  EXPECT_EQ(hv->count("start assy1"), 3u + 4u) << "5 restarts a minute";
  auto said = [&](msg::state state, const std::string& text) {
    return std::any_of(events->begin(), events->end(), [&](auto& ev) {
      return ev.deployable == "dep1" && ev.assembly.empty() && ev.state == state
             && ev.reason.find(text) != std::string::npos;
    });
  };
  EXPECT_TRUE(said(msg::state::recovering, "its actor died"));
  EXPECT_TRUE(said(msg::state::failed, "not watched until deployable_stop"));
  r = call("deployable_stop", {"dep1"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(hv->count("shutdown assy1"), 2u);
}

TEST_F(shell_service_test, probe_set_changes_one_setting_or_nothing) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  ASSERT_TRUE(call("assembly_resource_add", {"www", "web", "assy1"}).ok());
  // The port defaults to the one the resource serves.
  auto r = call("assembly_probe_set", {"assy1", "www", "kind", "http"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.message, "probe of assy1/www: http :80/ every 1s, timeout "
                       "500ms, 3 failures");
  ASSERT_TRUE(
    call("assembly_probe_set", {"assy1", "www", "failures", "5"}).ok());
  auto saved = stored->assemblies["assy1"].resources.at(0).probe;
  EXPECT_EQ(saved.kind, "http");
  EXPECT_EQ(saved.port, 80);
  EXPECT_EQ(saved.failures, 5u);
  for (auto [setting, value, message] : {
         std::tuple{"interval", "50ms",
                    "probe interval 50ms is outside 100ms-1h"},
         std::tuple{"timeout", "2s",
                    "probe timeout 2s is not below the interval (1s)"},
         std::tuple{"port", "0",
                    "probe port '0' is not a port number (1-65535)"},
         std::tuple{"url", "ftp://:21/",
                    "probe url 'ftp://:21/' is not "
                    "http://:PORT/PATH (the probe runs "
                    "in the guest, against its "
                    "loopback)"},
         std::tuple{"kind", "ping",
                    "probe kind 'ping' is not one of none, tcp, http, "
                    "command"},
       }) {
    r = call("assembly_probe_set", {"assy1", "www", setting, value});
    EXPECT_FALSE(r.ok()) << setting;
    EXPECT_EQ(r.code, msg::errc::invalid_argument);
    EXPECT_EQ(r.message, message);
  }
  EXPECT_EQ(stored->assemblies["assy1"].resources.at(0).probe, saved)
    << "a refused setting changed the probe";
  r = call("assembly_resource_list", {"assy1"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.rows.at(0).back(),
            "http :80/ every 1s, timeout 500ms, 5 failures");
  EXPECT_EQ(call("assembly_probe_set", {"assy1", "nope", "kind", "tcp"}).code,
            msg::errc::not_found);
}

TEST_F(shell_service_test, template_ports_get_host_ports_that_never_collide) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  auto r = call("assembly_resource_add", {"www", "web", "assy1"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_NE(r.message.find("http 127.0.0.1:20080 -> 80"), std::string::npos)
    << r.message;
  ASSERT_EQ(stored->assemblies["assy1"].resources.at(0).ports.at(0).host_port,
            20080);
  // A clone serves at the same time: it gets a port of its own.
  ASSERT_TRUE(call("assembly_clone", {"assy1", "assy2"}).ok());
  EXPECT_EQ(stored->assemblies["assy2"].resources.at(0).ports.at(0).host_port,
            20081);
  // Something outside pcloud has 20082 bound: it is passed over.
  hv->busy_ports = {20082};
  ASSERT_TRUE(call("assembly_create", {"assy3", "tiny", "x86_64"}).ok());
  ASSERT_TRUE(call("assembly_resource_add", {"www", "web", "assy3"}).ok());
  EXPECT_EQ(stored->assemblies["assy3"].resources.at(0).ports.at(0).host_port,
            20083);
  auto list = call("assembly_list", {});
  ASSERT_EQ(list.rows.size(), 3u);
  EXPECT_EQ(list.rows[1][5], "www http 127.0.0.1:20081 -> 80");
  EXPECT_EQ(list.rows[1][4], "user");
  EXPECT_EQ(list.rows[1][6], "128");
  EXPECT_EQ(list.rows[1][7], "1");
  EXPECT_EQ(list.rows[1][8], "channel");
}

TEST_F(shell_service_test, bad_ports_are_refused_and_change_nothing) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  ASSERT_TRUE(call("assembly_resource_add", {"www", "web", "assy1"}).ok());
  ASSERT_TRUE(call("assembly_create", {"assy2", "tiny", "x86_64"}).ok());
  ASSERT_TRUE(call("assembly_resource_add", {"www", "web", "assy2"}).ok());
  auto before = stored->assemblies;
  hv->busy_ports = {25000};
  struct refusal {
    std::vector<std::string> args;
    std::string message;
  };
  for (auto& x : std::vector<refusal>{
         {{"assy2", "www", "0", "21000"},
          "PORT must be a port number from 1 to 65535, not '0'"},
         {{"assy2", "www", "80", "65536"},
          "HOST_PORT must be a port number from 1 to 65535, not '65536'"},
         {{"assy2", "www", "80/sctp", "21000"},
          "PORT '80/sctp': the protocol is tcp or udp"},
         {{"assy2", "www", "http", "21000"},
          "PORT must be a port number from 1 to 65535, not 'http'"},
         {{"assy2", "www", "80", "80"},
          "HOST_PORT 80 is privileged: QEMU runs as an unprivileged user and "
          "cannot listen there (use 1024-65535)"},
         {{"assy2", "www", "80", "20080"},
          "host port 20080/tcp is taken by assy1/www (http)"},
         {{"assy2", "www", "80", "25000"},
          "host port 25000/tcp is in use on 127.0.0.1 by another program"},
         {{"assy2", "nosuch", "80", "21000"},
          "assembly 'assy2' has no resource 'nosuch' (assembly_resource_list "
          "assy2)"},
         {{"assy9", "www", "80", "21000"},
          "no assembly named 'assy9' (assembly_list shows them)"},
       }) {
    auto r = call("assembly_port_set", x.args);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.message, x.message);
  }
  EXPECT_EQ(stored->assemblies, before);
  auto r = call("assembly_port_set", {"assy2", "www", "80", "21000"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(stored->assemblies["assy2"].resources[0].ports[0].host_port, 21000);
  // A port the template did not declare.
  r = call("assembly_port_set", {"assy2", "www", "8443"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.message, "www 8443/tcp forwarded from host port 28443");
  r = call("assembly_port_remove", {"assy2", "www", "8443"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(stored->assemblies["assy2"].resources[0].ports.size(), 1u);
  EXPECT_FALSE(call("assembly_port_remove", {"assy2", "www", "8443"}).ok());
}

TEST_F(shell_service_test, networks_must_exist) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  ASSERT_TRUE(call("assembly_resource_add", {"www", "web", "assy1"}).ok());
  auto r = call("assembly_network_set", {"assy1", "nosuch"});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.message, "no network named 'nosuch' (networks: user, none, "
                       "default)");
  EXPECT_EQ(stored->assemblies["assy1"].network, "");
  ASSERT_TRUE(call("assembly_network_set", {"assy1", "none"}).ok());
  EXPECT_EQ(stored->assemblies["assy1"].network, "none");
  EXPECT_EQ(call("assembly_resource_list", {"assy1"}).rows.at(0).at(4),
            "(no network)");
  // On a libvirt network the guest's own address is where it answers.
  ASSERT_TRUE(call("assembly_network_set", {"assy1", "default"}).ok());
  EXPECT_EQ(call("assembly_resource_list", {"assy1"}).rows.at(0).at(4),
            "http 80");
}

TEST_F(shell_service_test, an_edit_made_meanwhile_is_never_lost) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  // The first add waits for the hypervisor to try its host port; the second
  // (no ports) is saved meanwhile. The first must not overwrite it.
  caf::scoped_actor self{sys};
  auto first
    = self->request(service, caf::infinite,
                    msg::shell_request{
                      token, "assembly_resource_add", {"www", "web", "assy1"}});
  auto second = self->request(service, caf::infinite,
                              msg::shell_request{token,
                                                 "assembly_resource_add",
                                                 {"w2", "dummy", "assy1"}});
  sched.run();
  msg::shell_reply r1, r2;
  first.receive([&](msg::shell_reply& r) { r1 = r; }, [](caf::error&) {});
  second.receive([&](msg::shell_reply& r) { r2 = r; }, [](caf::error&) {});
  EXPECT_TRUE(r2.ok()) << r2.message;
  EXPECT_FALSE(r1.ok());
  EXPECT_EQ(r1.message, "assembly 'assy1' was changed meanwhile by another "
                        "command; nothing saved (try again)");
  ASSERT_EQ(stored->assemblies["assy1"].resources.size(), 1u);
  EXPECT_EQ(stored->assemblies["assy1"].resources[0].name, "w2");
  EXPECT_TRUE(call("assembly_resource_add", {"www", "web", "assy1"}).ok());
}

TEST_F(shell_service_test, assembly_list_shows_a_running_guests_address) {
  ASSERT_TRUE(call("assembly_create", {"assy1", "tiny", "x86_64"}).ok());
  ASSERT_TRUE(call("assembly_resource_add", {"www", "web", "assy1"}).ok());
  ASSERT_TRUE(call("assembly_network_set", {"assy1", "default"}).ok());
  EXPECT_EQ(call("assembly_list", {}).rows.at(0).at(5), "www http 80")
    << "no address before it runs";
  ASSERT_TRUE(call("deployable_create", {"dep1"}).ok());
  ASSERT_TRUE(call("deployable_assembly_add", {"dep1", "assy1"}).ok());
  ASSERT_TRUE(call("deployable_start", {"dep1"}).ok());
  EXPECT_EQ(call("deployable_status", {"dep1"}).rows.at(1).at(1), "STARTING")
    << "on a libvirt network, ACTIVE waits for the guest's address";
  caf::anon_send(listener_of("assy1"),
                 msg::agent_addresses{
                   "assy1", incarnation_of("assy1"), {"fe80::1", "192.0.2.7"}});
  sched.run();
  EXPECT_EQ(call("assembly_list", {}).rows.at(0).at(5),
            "www http 192.0.2.7:80");
  auto status = call("deployable_status", {"dep1"});
  EXPECT_EQ(status.rows.at(2).at(1), "ACTIVE");
  EXPECT_EQ(status.rows.at(2).at(4), "http 192.0.2.7:80");
}
