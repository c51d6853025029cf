// pcloud-agent and the guest gateway in one process, linked by socketpairs:
// the real agent, the real gateway and the real supervision tree; only the
// hypervisor is a fake (no VM). Each test kills or breaks something and
// waits, with a timeout, for the events that show pcloud recovered it.
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/guest_gateway.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/guest_link.hpp"
#include "tests/support/live.hpp"

using namespace std::chrono_literals;
using namespace pcloud;

namespace {

constexpr auto timeout = 20s;

/// A scratch directory removed at the end of the test.
struct scratch_dir {
  scratch_dir() {
    char tmpl[] = "/tmp/pcloud-agent-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~scratch_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string path;
};

bool alive(pid_t pid) {
  return kill(pid, 0) == 0;
}

class agent_link_test : public ::testing::Test {
public:
  agent_link_test() : sys(cfg) {
    bus = sys.spawn(actors::event_bus, size_t{1000});
    hv = test::spawn_fake_hypervisor(sys, hv_script);
    recorder = sys.spawn([out = events](msg::event_listener_actor::pointer)
                           -> msg::event_listener_actor::behavior_type {
      return {[out](const msg::event& ev) { out->push(ev); }};
    });
    caf::anon_send(bus, caf::subscribe_atom::value, recorder);
  }

  ~agent_link_test() override {
    if (dep) {
      caf::anon_send_exit(dep, caf::exit_reason::user_shutdown);
    }
    test::stop_all({caf::actor_cast<caf::actor>(bus),
                    caf::actor_cast<caf::actor>(hv),
                    caf::actor_cast<caf::actor>(gateway),
                    caf::actor_cast<caf::actor>(recorder)});
    sys.await_all_actors_done();
    agents.clear();
  }

  /// The gateway reaches assembly NAME's agent through channels[NAME].
  void spawn_gateway(runtime::guest_gateway_options opts = {}) {
    opts.connect = [this](const msg::domain_info& info) {
      return channels[info.assembly].host_connect();
    };
    gateway = runtime::spawn_guest_gateway(sys, opts);
  }

  /// Starts deployable dep1 of `assemblies`, each with an agent, and waits
  /// until it is ACTIVE. Restarts are immediate and never escalate, so each
  /// test sees exactly the recovery it provokes.
  /// `channel_agents`: one agent on each assembly's channel (else the test
  /// brings its own).
  void start(std::vector<msg::assembly_spec> assemblies,
             bool wait_active = true, bool channel_agents = true) {
    if (!gateway) {
      spawn_gateway();
    }
    for (auto& a : assemblies) {
      if (channel_agents) {
        agents.push_back(
          std::make_unique<test::agent_thread>(channels[a.name], a.name));
      }
    }
    msg::deployable_spec spec;
    spec.name = "dep1";
    spec.assemblies = std::move(assemblies);
    spec.resource_escalation = msg::no_escalation_policy();
    dep = sys.spawn(actors::deployable, spec, bus, hv, gateway);
    caf::anon_send(dep, msg::start_atom::value);
    if (wait_active) {
      ASSERT_TRUE(wait_event("dep1 ACTIVE")) << lines();
    }
  }

  static msg::resource_spec resource(std::string name, std::string cls,
                                     std::string type) {
    msg::resource_spec r;
    r.name = std::move(name);
    r.resource_class = std::move(cls);
    r.type = std::move(type);
    r.monitor_interval = 200ms;
    r.monitor_timeout = 10s;
    return r;
  }

  static msg::assembly_spec assembly(std::string name,
                                     std::vector<msg::resource_spec> rs) {
    msg::assembly_spec a;
    a.name = std::move(name);
    a.uuid = "uuid-" + a.name;
    a.resources = std::move(rs);
    a.boot_timeout = 10s;
    return a;
  }

  /// Waits for an event whose line contains `text`, after `from` events.
  bool wait_event(const std::string& text, size_t from = 0) {
    return test::wait_for_event(*events, text, from, timeout);
  }

  /// The pid in the newest "started (pid N)" event of `path`.
  pid_t started_pid(const std::string& path) {
    pid_t pid = 0;
    std::regex re{"started \\(pid ([0-9]+)\\)"};
    for (auto& ev : events->items()) {
      auto line = msg::to_string(ev);
      std::smatch m;
      if (line.rfind(path + " ", 0) == 0 && std::regex_search(line, m, re)) {
        pid = std::stoi(m[1]);
      }
    }
    return pid;
  }

  size_t mark() { return events->items().size(); }

  /// dep1/a1/worker (`sleep 1000`) SIGKILLed: reported with its signal and
  /// restarted as a new process.
  void expect_worker_restarted_after_sigkill() {
    auto pid = started_pid("dep1/a1/worker");
    ASSERT_GT(pid, 0) << lines();
    auto m = mark();
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_TRUE(wait_event("dep1/a1/worker RECOVERING: killed by signal 9", m))
      << lines();
    ASSERT_TRUE(wait_event("dep1/a1/worker ACTIVE: restarted in", m))
      << lines();
    auto again = test::child_pids("sleep");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_NE(again[0], pid);
  }

  std::string lines() {
    std::string result;
    for (auto& ev : events->items()) {
      result += msg::to_string(ev) + "\n";
    }
    return result;
  }

  test::live_config cfg;
  caf::actor_system sys;
  std::shared_ptr<test::hypervisor_script> hv_script
    = std::make_shared<test::hypervisor_script>();
  msg::hypervisor_actor hv;
  msg::event_bus_actor bus;
  msg::guest_gateway_actor gateway;
  std::shared_ptr<test::sink<msg::event>> events
    = std::make_shared<test::sink<msg::event>>();
  msg::event_listener_actor recorder;
  msg::deployable_actor dep;
  std::map<std::string, test::fake_channel> channels;
  /// For agents on the TCP transport; outlives them (the destructor ends
  /// them first).
  test::tcp_channel tcp;
  std::vector<std::unique_ptr<test::agent_thread>> agents;
};

TEST_F(agent_link_test, exec_resource_killed_with_sigkill_is_restarted) {
  start({assembly("a1", {resource("worker", "exec", "sleep 1000")})});
  expect_worker_restarted_after_sigkill();
}

TEST_F(agent_link_test, resource_of_an_agent_on_tcp_only_is_restarted) {
  // The agent has no channel: it reaches the gateway's TCP listener with
  // its assembly's secret, and recovery runs through that link.
  std::string error;
  auto opts = test::tcp_gateway_options(tcp, error);
  ASSERT_GE(opts.tcp_listener, 0) << error;
  spawn_gateway(opts);
  agents.push_back(std::make_unique<test::agent_thread>(
    tcp, "a1", "boot-1", test::fake_agent_secret("a1")));
  auto a1 = assembly("a1", {resource("worker", "exec", "sleep 1000")});
  a1.agent_transport = msg::tcp_transport;
  start({a1}, true, false);
  expect_worker_restarted_after_sigkill();
}

TEST_F(agent_link_test, exec_resource_that_cannot_start_is_reported) {
  auto bad = resource("bad", "exec", "/nonexistent/daemon -f");
  // Retried once a second: without a backoff the failed starts would loop
  // as fast as the link allows (and trip the gateway's flood guard).
  bad.escalation = msg::escalation_policy{0, 0s, 1s, 1s, 1h};
  start({assembly("a1", {resource("ok", "exec", "sleep 1000"), bad})}, false);
  EXPECT_TRUE(wait_event("dep1/a1/bad RECOVERING: start failed: cannot "
                         "execute /nonexistent/daemon: No such file or "
                         "directory"))
    << lines();
  EXPECT_TRUE(wait_event("dep1/a1/ok ACTIVE: started (pid")) << lines();
}

TEST_F(agent_link_test, ocf_dummy_whose_state_file_vanishes_is_restarted) {
  scratch_dir dir;
  auto state = dir.path + "/dummy.state";
  auto r = resource("dummy", "ocf", "heartbeat:Dummy");
  r.parameters["state"] = state;
  start({assembly("a1", {r})});
  struct stat st {};
  ASSERT_EQ(stat(state.c_str(), &st), 0) << "Dummy's start made no state file";
  auto m = mark();
  ASSERT_EQ(unlink(state.c_str()), 0);
  EXPECT_TRUE(
    wait_event("dep1/a1/dummy RECOVERING: monitor returned 7 (not running)", m))
    << lines();
  ASSERT_TRUE(wait_event("dep1/a1/dummy ACTIVE: restarted in", m)) << lines();
  EXPECT_EQ(stat(state.c_str(), &st), 0) << "the restart made no state file";
}

TEST_F(agent_link_test, lsb_script_whose_daemon_dies_is_restarted) {
  scratch_dir dir;
  auto script = dir.path + "/tinyd";
  auto pidfile = dir.path + "/tinyd.pid";
  {
    std::ofstream out{script};
    out
      << "#!/bin/sh\n"
         "# A small LSB init script: start, stop, status.\n"
         "PIDFILE="
      << pidfile
      << "\n"
         "case \"$1\" in\n"
         "  start) sleep 1000 >/dev/null 2>&1 & echo $! > $PIDFILE ;;\n"
         "  stop) [ -f $PIDFILE ] && kill $(cat $PIDFILE); rm -f $PIDFILE ;;\n"
         "  status) [ -f $PIDFILE ] || exit 3\n"
         "          kill -0 $(cat $PIDFILE) 2>/dev/null && exit 0; exit 1 ;;\n"
         "  *) exit 3 ;;\n"
         "esac\n";
  }
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  start({assembly("a1", {resource("tinyd", "lsb", script)})});
  pid_t pid = 0;
  std::ifstream{pidfile} >> pid;
  ASSERT_GT(pid, 0);
  auto m = mark();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_TRUE(wait_event("dep1/a1/tinyd RECOVERING: monitor returned 1 (dead, "
                         "pid file exists)",
                         m))
    << lines();
  ASSERT_TRUE(wait_event("dep1/a1/tinyd ACTIVE: restarted in", m)) << lines();
  pid_t again = 0;
  std::ifstream{pidfile} >> again;
  EXPECT_NE(again, pid);
  EXPECT_TRUE(alive(again));
  kill(again, SIGKILL);
}

} // namespace
