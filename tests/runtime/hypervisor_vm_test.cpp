// Real QEMU guests (TCG) under qemu:///embed: the assembly actor and the
// hypervisor layer recover VMs killed or forced off from outside. The guest
// agent is faked (it says hello as soon as the domain starts); readiness of
// the guest itself is read from its console log.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runtime/virt/connection.hpp"
#include "tests/support/vm_tree.hpp"

using namespace pcloud;
using namespace std::chrono_literals;

namespace {

class hypervisor_vm_test : public test::vm_tree_fixture {
public:
  hypervisor_vm_test() : vm_tree_fixture(false, "assy1") {
    // nop
  }
};

} // namespace

TEST_F(hypervisor_vm_test, qemu_killed_with_sigkill_is_restarted) {
  // "qemu killed by signal 9" where pcloud reaps its qemu (a subreaper),
  // "qemu exited" where it cannot.
  expect_recovery_after(SIGKILL, "VM stopped: qemu");
}

TEST_F(hypervisor_vm_test, qemu_terminated_with_sigterm_is_restarted) {
  // What a destroy sends first: a force-off from outside.
  expect_recovery_after(SIGTERM, "VM stopped: qemu");
}

TEST_F(hypervisor_vm_test, destroy_from_another_connection_is_restarted) {
  start_deployable();
  auto mark = events->items().size();
  // Only one process can open an embed root: a second connection inside
  // this process stands in for `virsh destroy`.
  auto other = runtime::virt::connection::open(env.uri());
  ASSERT_TRUE(other) << other.error();
  auto dom = other->lookup("pcloud-assy1");
  ASSERT_TRUE(dom && dom->has_value());
  ASSERT_TRUE((*dom)->destroy());
  ASSERT_TRUE(wait_event("dep1/assy1 RECOVERING: VM stopped", mark)) << lines();
  ASSERT_TRUE(wait_event("dep1/assy1 ACTIVE: VM restarted in", mark))
    << lines();
  EXPECT_TRUE(wait_boots(2));
}

TEST_F(hypervisor_vm_test, stop_requested_by_pcloud_is_not_a_failure) {
  start_deployable();
  auto mark = events->items().size();
  auto pid = env.qemu_pid("pcloud-assy1");
  ASSERT_TRUE(pid);
  caf::anon_send(dep, msg::stop_atom::value);
  ASSERT_TRUE(wait_event("dep1 STOPPED", mark)) << lines();
  EXPECT_FALSE(env.qemu_pid("pcloud-assy1"));
  for (auto& ev : events->items()) {
    EXPECT_NE(ev.state, msg::state::recovering) << msg::to_string(ev);
  }
}

TEST_F(hypervisor_vm_test, domains_of_a_gone_process_are_adopted) {
  // Another process starts the domain and exits, as a pcloudd killed with
  // SIGKILL would; this one must adopt it, not start it again.
  auto child = fork();
  if (child == 0) {
    execl(PCLOUD_VM_HELPER, PCLOUD_VM_HELPER, env.uri().c_str(),
          env.state_dir.c_str(), env.kernel.c_str(), env.initrd.c_str(),
          "assy1", nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
    << "helper failed: " << status;
  auto pid = env.qemu_pid("pcloud-assy1");
  ASSERT_TRUE(pid);
  open_hypervisor();
  caf::scoped_actor self{sys};
  msg::domain_info info;
  self
    ->request(hv, test::vm_timeout, msg::start_atom::value,
              test::make_assembly("assy1", {}), msg::domain_listener_actor{})
    .receive([&](msg::domain_info& x) { info = x; },
             [&](caf::error& err) { FAIL() << sys.render(err); });
  EXPECT_TRUE(info.adopted);
  EXPECT_EQ(info.incarnation, 1u);
  EXPECT_EQ(env.qemu_pid("pcloud-assy1"), pid) << "adopted, not restarted";
}
