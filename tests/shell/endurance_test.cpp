// pcloudd runs for months: what a unit of work leaves behind must be
// nothing. Here, one-shot pcloudsh connections (each process a CAF node of
// its own) against a pcloudd on test:///default. CAF 0.17.6 kept about
// 1.3 KB per node for the daemon's life (runtime/control/basp.hpp,
// forget_departed_nodes); measured here: 1.3 MB after 1,000 connections
// without the fix, nothing with it.
#include <dirent.h>

#include "tests/support/attackers.hpp"

using namespace pcloud;
using namespace pcloud::test;

namespace {

class endurance : public daemon_fixture {
protected:
  endurance()
      : daemon_fixture("/tmp/pcloud-endurance-XXXXXX", "test:///default") {
    // nop
  }

  /// Entries of /proc/PID/`what` (fd, task).
  size_t count(const std::string& what) {
    auto path = "/proc/" + std::to_string(daemon_pid) + "/" + what;
    size_t n = 0;
    if (auto* d = ::opendir(path.c_str())) {
      while (auto* e = ::readdir(d)) {
        n += e->d_name[0] != '.' ? 1 : 0;
      }
      ::closedir(d);
    }
    return n;
  }

  void one_shots(int n) {
    for (int i = 0; i < n; ++i) {
      auto r = sh({"deployable_status", "d1"});
      ASSERT_EQ(r.rc, 0) << "connection " << i << ": " << r.err;
    }
  }
};

} // namespace

TEST_F(endurance, shell_connections_leave_nothing_behind) {
  start_daemon();
  ASSERT_EQ(sh({"deployable_create", "d1"}).rc, 0);
  // Warm-up: allocator arenas, CAF's first proxies and type tables.
  ASSERT_NO_FATAL_FAILURE(one_shots(200));
  auto rss = rss_kb(daemon_pid);
  auto fds = count("fd");
  auto threads = count("task");
  // 2,000 at ~30 ms each: a minute. The leak this guards against left
  // 2.6 MB here; the bound leaves the allocator room to breathe.
  ASSERT_NO_FATAL_FAILURE(one_shots(2000));
  EXPECT_LT(rss_kb(daemon_pid), rss + 1024)
    << "pcloudd's RSS grew by more than 1 MB over 2,000 connections";
  EXPECT_EQ(count("fd"), fds);
  EXPECT_EQ(count("task"), threads);
}
