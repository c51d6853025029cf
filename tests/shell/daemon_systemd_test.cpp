// pcloudd under a unit of Type=notify: a notification socket of the test's
// own stands in for systemd's. READY comes once shells get in, WATCHDOG
// pings follow at the interval asked, and a stop says STOPPING.
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/daemon_process.hpp"
#include "tests/support/notify_socket.hpp"

using namespace pcloud::test;

namespace {

class daemon_systemd : public daemon_fixture {
protected:
  daemon_systemd()
      : daemon_fixture("/tmp/pcloud-systemd-XXXXXX", "test:///default") {
    // nop
  }
};

} // namespace

TEST_F(daemon_systemd, ready_when_shells_get_in_then_pings_and_stopping) {
  notify_socket manager{dir + "/notify.sock"};
  ::setenv("WATCHDOG_USEC", "1000000", 1);
  start_daemon();
  std::string seen;
  ASSERT_TRUE(manager.wait_for("READY=1", 30s, &seen))
    << seen << slurp(dir + "/pcloudd.log");
  EXPECT_NE(seen.find("READY=1\nSTATUS=no assemblies running"),
            std::string::npos)
    << seen;
  // READY means a shell gets in.
  EXPECT_EQ(sh({"deployable_list"}).rc, 0);
  // Twice a second for a 1 s watchdog: three pings come well within 10 s.
  int pings = 0;
  for (int i = 0; i < 3; ++i) {
    pings += manager.wait_for("WATCHDOG=1", 10s);
  }
  EXPECT_EQ(pings, 3);
  stop_daemon(SIGTERM);
  EXPECT_TRUE(manager.wait_for("STOPPING=1", 10s));
}
