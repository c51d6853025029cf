// sd_notify(3) through runtime/systemd_notify, to a socket of the test's
// own standing in for systemd's.
#include "runtime/systemd_notify.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/notify_socket.hpp"

using namespace pcloud;
using namespace std::chrono_literals;

TEST(systemd_notify, says_nothing_without_a_service_manager) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(runtime::systemd_notify::active());
  EXPECT_FALSE(runtime::systemd_notify::send("READY=1"));
  EXPECT_EQ(runtime::systemd_notify::watchdog_interval().count(), 0);
}

TEST(systemd_notify, reaches_the_managers_socket) {
  test::notify_socket manager{"/tmp/pcloud-notify-" + std::to_string(::getpid())
                              + ".sock"};
  ASSERT_TRUE(runtime::systemd_notify::active());
  EXPECT_TRUE(runtime::systemd_notify::send("READY=1\nSTATUS=testing"));
  EXPECT_EQ(manager.next(5s), "READY=1\nSTATUS=testing");
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  EXPECT_EQ(runtime::systemd_notify::watchdog_interval(), 30s);
  // Meant for another process: not ours to ping.
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_EQ(runtime::systemd_notify::watchdog_interval().count(), 0);
  ::unsetenv("WATCHDOG_PID");
}
