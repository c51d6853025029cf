// Probes, with the real agent, gateway and tree in one process
// (tests/support/agent_link_fixture.hpp) and busybox httpd as the service:
// a resource is ACTIVE only once its probe passes, a service that stops
// answering (SIGSTOP, a 404, a hung check) is killed and restarted, and a
// stopped exec process is found without any probe.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/agent_link_fixture.hpp"
#include "tests/support/http.hpp"

using namespace std::chrono_literals;
using namespace pcloud;

namespace {

constexpr const char* busybox = "/bin/busybox";

/// How many processes run the command line `words` (joined by NULs).
size_t count_running(const std::string& words) {
  size_t n = 0;
  for (auto& entry : std::filesystem::directory_iterator{"/proc"}) {
    std::ifstream in{entry.path() / "cmdline", std::ios::binary};
    std::string cmdline{std::istreambuf_iterator<char>(in),
                        std::istreambuf_iterator<char>()};
    n += cmdline == words ? 1 : 0;
  }
  return n;
}

class probe_test : public test::agent_link_test {
public:
  void SetUp() override {
    if (access(busybox, X_OK) != 0) {
      GTEST_SKIP() << busybox << " is missing (./setup installs it)";
    }
    port = test::free_loopback_port();
    www = dir.path;
  }

  /// busybox httpd serving `www` on `port`, probed at /ok: /ok exists, 200;
  /// gone, 404.
  msg::resource_spec httpd(uint32_t failures) {
    auto r = resource("web", "exec",
                      std::string{busybox} + " httpd -f -p 127.0.0.1:"
                        + std::to_string(port) + " -h " + www);
    r.probe.kind = "http";
    r.probe.port = port;
    r.probe.path = "/ok";
    // Generous for a loopback GET, so a loaded machine fails no check.
    r.probe.interval = 200ms;
    r.probe.timeout = 150ms;
    r.probe.failures = failures;
    // The probe, not the exec class's own check for a stopped process.
    r.monitor_interval = 1h;
    return r;
  }

  void set_ok(bool ok) {
    auto path = www + "/ok";
    if (ok) {
      std::ofstream{path} << "ok\n";
    } else {
      std::filesystem::remove(path);
    }
  }

  /// The probe column of resource a1/NAME's status, as status shows it.
  std::string probe_of(const std::string& name) {
    caf::scoped_actor self{sys};
    std::string result;
    self->request(dep, 5s, caf::get_atom::value)
      .receive(
        [&](const msg::deployable_status& s) {
          for (auto& a : s.assemblies) {
            for (auto& r : a.resources) {
              if (r.name == name) {
                result = r.probe;
              }
            }
          }
        },
        [&](const caf::error&) {});
    return result;
  }

  /// Waits until the probe column of a1/NAME contains `text`.
  bool wait_probe(const std::string& name, const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + test::link_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe_of(name).find(text) != std::string::npos) {
        return true;
      }
      // Status is a request to the tree; nothing to wait on but time.
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  test::scratch_dir dir;
  uint16_t port = 0;
  std::string www;
};

TEST_F(probe_test, resource_is_active_only_once_its_probe_passes) {
  start({assembly("a1", {httpd(100)})}, false);
  ASSERT_TRUE(wait_event("dep1/a1/web STARTING")) << lines();
  // httpd runs, but /ok is missing: the probe fails, the resource waits.
  ASSERT_TRUE(wait_probe("web", "/100: status 404")) << lines();
  EXPECT_EQ(lines().find("dep1/a1/web ACTIVE"), std::string::npos) << lines();
  set_ok(true);
  EXPECT_TRUE(wait_event("dep1/a1/web ACTIVE: started (pid")) << lines();
  EXPECT_TRUE(wait_event(", ready in ")) << lines();
  EXPECT_TRUE(wait_probe("web", "ok: status 200")) << lines();
}

TEST_F(probe_test, readiness_is_checked_again_well_before_the_interval) {
  set_ok(true);
  auto r = httpd(3);
  // Were readiness checked once an interval, the first check (before httpd
  // listens) would fail and the next come in an hour.
  r.probe.interval = 1h;
  r.probe.timeout = 150ms;
  start({assembly("a1", {r})});
  EXPECT_TRUE(wait_event("dep1/a1/web ACTIVE: started (pid")) << lines();
}

TEST_F(probe_test, process_that_dies_before_it_is_ready_is_restarted) {
  set_ok(true);
  start({assembly("a1", {httpd(100)})});
  // Restarted, the next httpd never becomes ready (404), and is killed
  // while pcloud waits for it.
  set_ok(false);
  auto m = mark();
  ASSERT_EQ(kill(started_pid("dep1/a1/web"), SIGKILL), 0);
  ASSERT_TRUE(wait_event("dep1/a1/web RECOVERING: killed by signal 9", m))
    << lines();
  ASSERT_TRUE(wait_probe("web", ": status 404")) << lines();
  auto pids = test::child_pids("busybox");
  ASSERT_EQ(pids.size(), 1u) << lines();
  m = mark();
  ASSERT_EQ(kill(pids[0], SIGKILL), 0);
  EXPECT_TRUE(wait_event("dep1/a1/web RECOVERING: start failed: exited before "
                         "it was ready: killed by signal 9",
                         m))
    << lines();
  set_ok(true);
  EXPECT_TRUE(wait_event("dep1/a1/web ACTIVE: restarted in", m)) << lines();
}

TEST_F(probe_test, sigstopped_httpd_is_killed_and_restarted) {
  set_ok(true);
  start({assembly("a1", {httpd(3)})});
  auto pid = started_pid("dep1/a1/web");
  ASSERT_GT(pid, 0) << lines();
  auto m = mark();
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  EXPECT_TRUE(wait_event("dep1/a1/web RECOVERING: hung: http 127.0.0.1:"
                           + std::to_string(port)
                           + "/ok failed 3 times (timed out after 150ms)",
                         m))
    << lines();
  ASSERT_TRUE(wait_event("dep1/a1/web ACTIVE: restarted in", m)) << lines();
  EXPECT_FALSE(test::alive(pid)) << "the stopped httpd was left behind";
}

TEST_F(probe_test, service_answering_404_is_restarted) {
  set_ok(true);
  start({assembly("a1", {httpd(3)})});
  auto m = mark();
  set_ok(false);
  EXPECT_TRUE(wait_event("failed 3 times (status 404 (wanted 200-399))", m))
    << lines();
  set_ok(true);
  EXPECT_TRUE(wait_event("dep1/a1/web ACTIVE: restarted in", m)) << lines();
}

TEST_F(probe_test, check_that_hangs_is_killed_at_its_timeout) {
  auto r = resource("worker", "exec", "sleep 1000");
  r.probe.kind = "command";
  r.probe.command = "sleep 4242";
  r.probe.interval = 200ms;
  r.probe.timeout = 100ms;
  r.probe.failures = 2;
  start({assembly("a1", {r})}, false);
  const std::string failed = "never ready: command 'sleep 4242' failed 2 "
                             "times (timed out after 100ms)";
  ASSERT_TRUE(wait_event("dep1/a1/worker RECOVERING: start failed: " + failed))
    << lines();
  // Restarted at once, it fails again: four checks have hung by now.
  ASSERT_TRUE(wait_event(failed, mark())) << lines();
  // Each went with its timeout: at most the one in flight is left.
  EXPECT_LE(count_running(std::string{"sleep\0004242\0", 11}), 1u);
}

TEST_F(probe_test, failures_that_never_reach_the_threshold_in_a_row_are_ok) {
  // A flapping check: it fails every other run, and counts its runs.
  auto runs = www + "/runs";
  auto r = resource("worker", "exec", "sleep 1000");
  r.probe.kind = "command";
  r.probe.command = "echo >> " + runs + "; cd " + www
                    + " && if [ -f flip ]; then rm flip; else touch flip; "
                      "false; fi";
  r.probe.interval = 300ms;
  r.probe.timeout = 250ms;
  r.probe.failures = 2;
  start({assembly("a1", {r})});
  auto counted = [&] {
    std::ifstream in{runs};
    return static_cast<size_t>(std::count(std::istreambuf_iterator<char>(in),
                                          std::istreambuf_iterator<char>(),
                                          '\n'));
  };
  auto deadline = std::chrono::steady_clock::now() + test::link_timeout;
  while (counted() < 12 && std::chrono::steady_clock::now() < deadline) {
    // The checks run in the agent's time; nothing to wait on but them.
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE(counted(), 12u);
  EXPECT_EQ(lines().find("RECOVERING"), std::string::npos) << lines();
}

TEST_F(probe_test, failures_count_only_after_the_initial_delay) {
  auto r = resource("worker", "exec", "sleep 1000");
  r.probe.kind = "command";
  r.probe.command = "false";
  r.probe.interval = 100ms;
  r.probe.timeout = 50ms;
  r.probe.failures = 1;
  r.probe.initial_delay = 400ms;
  start({assembly("a1", {r})}, false);
  ASSERT_TRUE(wait_event("dep1/a1/worker RECOVERING: start failed: never "
                         "ready: command 'false' failed 1 times"))
    << lines();
  auto at = [&](const std::string& text) {
    for (auto& ev : events->items()) {
      if (msg::to_string(ev).find(text) != std::string::npos) {
        return ev.time;
      }
    }
    return caf::timestamp{};
  };
  // STARTING comes before the agent even starts the process: a lower bound.
  EXPECT_GE(at("dep1/a1/worker RECOVERING") - at("dep1/a1/worker STARTING"),
            400ms);
}

TEST_F(probe_test, stopped_exec_process_is_found_without_a_probe) {
  start({assembly("a1", {resource("worker", "exec", "sleep 1000")})});
  auto pid = test::child_pids("sleep").at(0);
  auto m = mark();
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  EXPECT_TRUE(wait_event("dep1/a1/worker RECOVERING: process "
                           + std::to_string(pid)
                           + " is stopped (state T); killed",
                         m))
    << lines();
  ASSERT_TRUE(wait_event("dep1/a1/worker ACTIVE: restarted in", m)) << lines();
  EXPECT_FALSE(test::alive(pid));
}

} // namespace
