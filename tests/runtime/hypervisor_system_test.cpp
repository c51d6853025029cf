// qemu:///system with libvirtd started by the test setup
// (conf/host/start-libvirtd.sh): a force-off and a pause from a separate
// process, and libvirtd restarting under running VMs. These tests restart the
// machine's libvirtd, so ctest runs them one at a time.
#include <cstdlib>

#include "tests/support/vm_tree.hpp"

using namespace pcloud;
using namespace std::chrono_literals;

namespace {

class hypervisor_system_test : public test::vm_tree_fixture {
public:
  hypervisor_system_test()
      : vm_tree_fixture(true, "systest" + std::to_string(getpid())) {
    // nop
  }

  static void run(const std::string& cmd) {
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  /// Our libvirtd, by its pid file: `pkill` and `pidof` would also reach
  /// the libvirtd of another root or container on this kernel.
  static void kill_libvirtd() {
    run("pid=$(cat /run/libvirtd.pid) && kill -9 \"$pid\" && "
        "while kill -0 \"$pid\" 2>/dev/null; do sleep 0.05; done");
  }

  static void start_libvirtd() { run(PCLOUD_START_LIBVIRTD); }

  size_t count_recovering(size_t from) {
    size_t n = 0;
    auto evs = events->items();
    for (size_t i = from; i < evs.size(); ++i) {
      n += evs[i].state == msg::state::recovering;
    }
    return n;
  }
};

} // namespace

TEST_F(hypervisor_system_test, virsh_destroy_from_another_process) {
  start_deployable();
  auto mark = events->items().size();
  // What virt-manager's Force Off does.
  run("virsh -q -c qemu:///system destroy " + domain() + " >/dev/null");
  ASSERT_TRUE(wait_event("dep1/" + name + " RECOVERING: VM stopped", mark))
    << lines();
  ASSERT_TRUE(wait_event("dep1/" + name + " ACTIVE: VM restarted in", mark))
    << lines();
  EXPECT_TRUE(wait_boots(2));
}

/// The same with the real agent in the guest, over its channel.
class agent_system_test : public test::vm_tree_fixture {
public:
  agent_system_test()
      : vm_tree_fixture(true, "sysagent" + std::to_string(getpid()), true) {
    // nop
  }

  static void run(const std::string& cmd) {
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
};

TEST_F(agent_system_test, virsh_suspend_is_a_hung_guest) {
  start_deployable();
  auto mark = events->items().size();
  // What virt-manager's Pause does: qemu runs, the guest's CPUs do not.
  // libvirt's "suspended" event is no death; the agent's silence is.
  run("virsh -q -c qemu:///system suspend " + domain() + " >/dev/null");
  auto paused_at = std::chrono::steady_clock::now();
  bool seen = wait_event(
    "dep1/" + name + " RECOVERING: agent link lost: guest unresponsive", mark);
  auto detected = std::chrono::steady_clock::now() - paused_at;
  ASSERT_TRUE(seen) << lines();
  std::printf(
    "paused guest (virsh suspend) detected after %lld ms\n",
    static_cast<long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(detected).count()));
  ASSERT_TRUE(wait_event("dep1/" + name + " ACTIVE: VM restarted in", mark))
    << lines();
  EXPECT_TRUE(wait_boots(2)) << "the paused domain was replaced by a new boot";
}

TEST_F(hypervisor_system_test, libvirtd_restart_restarts_no_vm) {
  start_deployable();
  auto pid = env.qemu_pid(domain());
  ASSERT_TRUE(pid);
  auto mark = events->items().size();
  kill_libvirtd();
  start_libvirtd();
  // Still recovered afterwards: the hypervisor reconnected.
  ASSERT_EQ(kill(*pid, SIGKILL), 0);
  ASSERT_TRUE(wait_event("dep1/" + name + " ACTIVE: VM restarted in", mark))
    << lines();
  EXPECT_EQ(count_recovering(mark), 2u)
    << "only the kill, for the assembly and its deployable:\n"
    << lines();
}

TEST_F(hypervisor_system_test, vm_that_died_while_libvirtd_was_down) {
  start_deployable();
  auto pid = env.qemu_pid(domain());
  ASSERT_TRUE(pid);
  auto mark = events->items().size();
  kill_libvirtd();
  ASSERT_EQ(kill(*pid, SIGKILL), 0);
  ASSERT_TRUE(wait_event("dep1/" + name + " RECOVERING", mark)) << lines();
  start_libvirtd();
  ASSERT_TRUE(wait_event("dep1/" + name + " ACTIVE: VM restarted in", mark))
    << lines();
  EXPECT_TRUE(wait_boots(2));
  auto pid2 = env.qemu_pid(domain());
  ASSERT_TRUE(pid2);
  EXPECT_NE(*pid2, *pid);
}
