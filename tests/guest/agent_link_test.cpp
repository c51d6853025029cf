// pcloud-agent and the guest gateway in one process, linked by socketpairs
// (tests/support/agent_link_fixture.hpp): killed, stopped or broken
// resources of each class are recovered.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/agent_link_fixture.hpp"

using namespace std::chrono_literals;
using namespace pcloud;
using test::agent_link_test;
using test::alive;
using test::scratch_dir;

namespace {

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
