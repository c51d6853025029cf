// pcloud-agent in a real tiny guest under TCG, over the virtio-serial
// channel: the real hypervisor, the real gateway and the real tree. The
// guest's resource kills itself once (a SIGKILL inside the guest) and pcloud
// must bring it back; the host end of the link going away and coming back
// must not restart anything.
#include <signal.h>

#include "tests/support/vm_tree.hpp"

using namespace pcloud;
using namespace pcloud::test;

namespace {

/// Runs once until it SIGKILLs itself a second after its start; runs for
/// good after pcloud restarted it (the marker survives in the guest's /tmp).
msg::resource_spec self_killing_worker() {
  msg::resource_spec r;
  r.name = "worker";
  r.resource_class = "exec";
  r.type = "sh -c 'if [ ! -e /tmp/killed-once ]; then touch /tmp/killed-once; "
           "sleep 1; kill -9 $$; fi; exec sleep 100000'";
  return r;
}

class agent_vm_test : public vm_tree_fixture {
public:
  agent_vm_test() : vm_tree_fixture(false, "agentvm", true) {
    // nop
  }
};

TEST_F(agent_vm_test, resource_killed_inside_the_guest_is_restarted) {
  start_deployable({self_killing_worker()});
  ASSERT_TRUE(wait_event("dep1/agentvm ACTIVE: agent")) << lines();
  EXPECT_TRUE(wait_event("dep1/agentvm/worker ACTIVE: started (pid"))
    << lines();
  EXPECT_TRUE(
    wait_event("dep1/agentvm/worker RECOVERING: killed by signal 9 (SIGKILL)"))
    << lines();
  EXPECT_TRUE(wait_event("dep1/agentvm/worker ACTIVE: restarted in"))
    << lines();
  EXPECT_EQ(lines().find("dep1/agentvm RECOVERING"), std::string::npos)
    << "a resource failure must not restart the VM\n"
    << lines();
}

TEST_F(agent_vm_test, stopped_guest_trips_the_idle_timeout) {
  start_deployable();
  ASSERT_TRUE(wait_event("dep1/agentvm ACTIVE: agent")) << lines();
  auto pid = env.qemu_pid(domain());
  ASSERT_TRUE(pid);
  auto mark = events->items().size();
  ASSERT_EQ(kill(*pid, SIGSTOP), 0);
  auto stopped_at = std::chrono::steady_clock::now();
  bool seen = wait_event("dep1/agentvm RECOVERING: agent link lost: guest "
                         "unresponsive",
                         mark);
  auto detected = std::chrono::steady_clock::now() - stopped_at;
  kill(*pid, SIGCONT);
  ASSERT_TRUE(seen) << lines();
  std::printf(
    "hung guest detected after %lld ms\n",
    static_cast<long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(detected).count()));
  EXPECT_TRUE(wait_event("dep1/agentvm ACTIVE: VM restarted in", mark))
    << lines();
}

} // namespace
