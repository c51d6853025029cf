// Real QEMU guests (TCG) under qemu:///embed: the assembly actor and the
// hypervisor layer recover VMs killed or forced off from outside. The guest
// agent is faked (it says hello as soon as the domain starts); readiness of
// the guest itself is read from its console log.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "actors/deployable.hpp"
#include "actors/event_bus.hpp"
#include "runtime/hypervisor.hpp"
#include "runtime/virt/connection.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/live.hpp"
#include "tests/support/vm.hpp"

using namespace pcloud;
using namespace std::chrono_literals;

namespace {

/// Generous: a TCG boot takes ~3 s, but the first domain start on a machine
/// probes QEMU's capabilities, which took ~80 s where /dev/kvm exists but
/// does not work (tests/support/vm.cpp shares the result between tests).
constexpr auto vm_timeout = 240s;

class hypervisor_vm_test : public ::testing::Test {
public:
  hypervisor_vm_test() : sys(cfg) {
    bus = sys.spawn(actors::event_bus, size_t{1000});
    gateway = test::spawn_fake_gateway(sys, gw);
    recorder = sys.spawn([out = events](msg::event_listener_actor::pointer)
                           -> msg::event_listener_actor::behavior_type {
      return {[out](const msg::event& ev) { out->push(ev); }};
    });
    caf::anon_send(bus, caf::subscribe_atom::value, recorder);
  }

  ~hypervisor_vm_test() override {
    if (dep) {
      caf::anon_send_exit(dep, caf::exit_reason::user_shutdown);
    }
    if (hv) {
      caf::scoped_actor self{sys};
      self->request(hv, 60s, msg::destroy_atom::value, std::string{"assy1"})
        .receive([](caf::ok_atom) {}, [](caf::error&) {});
      caf::anon_send_exit(hv, caf::exit_reason::user_shutdown);
    }
    for (auto h : {caf::actor_cast<caf::actor>(bus),
                   caf::actor_cast<caf::actor>(gateway),
                   caf::actor_cast<caf::actor>(recorder)}) {
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    }
    sys.await_all_actors_done();
  }

  /// Opens the embed root: from here on no other process can.
  void open_hypervisor() {
    auto hv_res = runtime::spawn_hypervisor(sys, env.options());
    ASSERT_TRUE(hv_res) << hv_res.error();
    hv = *hv_res;
  }

  void start_deployable() {
    open_hypervisor();
    msg::deployable_spec spec;
    spec.name = "dep1";
    spec.assemblies = {test::make_assembly("assy1", {})};
    dep = sys.spawn(actors::deployable, spec, bus, hv, gateway);
    caf::anon_send(dep, msg::start_atom::value);
    ASSERT_TRUE(wait_event("dep1 ACTIVE"));
    ASSERT_TRUE(wait_boots(1)) << "the guest did not boot";
  }

  /// Waits for an event whose line contains `text`, after `from` events.
  bool wait_event(const std::string& text, size_t from = 0) {
    return events->wait_for(
      [&](const std::vector<msg::event>& evs) {
        for (size_t i = from; i < evs.size(); ++i) {
          if (msg::to_string(evs[i]).find(text) != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      vm_timeout);
  }

  bool wait_boots(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + vm_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (env.boots("assy1") >= n) {
        return true;
      }
      std::this_thread::sleep_for(100ms); // polls a file, not an actor
    }
    return false;
  }

  std::string lines() {
    std::string result;
    for (auto& ev : events->items()) {
      result += msg::to_string(ev) + "\n";
    }
    return result;
  }

  /// Kills the guest's qemu with `sig`; the VM must come back.
  void expect_recovery_after(int sig, const std::string& reason) {
    start_deployable();
    auto pid = env.qemu_pid("pcloud-assy1");
    ASSERT_TRUE(pid);
    auto mark = events->items().size();
    ASSERT_EQ(kill(*pid, sig), 0);
    ASSERT_TRUE(wait_event("dep1/assy1 RECOVERING: " + reason, mark))
      << lines();
    ASSERT_TRUE(wait_event("dep1/assy1 ACTIVE: VM restarted in", mark))
      << lines();
    ASSERT_TRUE(wait_boots(2)) << "the restarted guest did not boot";
    auto pid2 = env.qemu_pid("pcloud-assy1");
    ASSERT_TRUE(pid2);
    EXPECT_NE(*pid2, *pid);
  }

  test::vm_environment env;
  test::live_config cfg;
  caf::actor_system sys;
  msg::hypervisor_actor hv;
  msg::event_bus_actor bus;
  std::shared_ptr<test::gateway_script> gw
    = std::make_shared<test::gateway_script>();
  msg::guest_gateway_actor gateway;
  std::shared_ptr<test::sink<msg::event>> events
    = std::make_shared<test::sink<msg::event>>();
  msg::event_listener_actor recorder;
  msg::deployable_actor dep;
};

} // namespace

TEST_F(hypervisor_vm_test, qemu_killed_with_sigkill_is_restarted) {
  expect_recovery_after(SIGKILL, "VM stopped: qemu killed by signal 9");
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
    ->request(hv, vm_timeout, msg::start_atom::value,
              test::make_assembly("assy1", {}), msg::domain_listener_actor{})
    .receive([&](msg::domain_info& x) { info = x; },
             [&](caf::error& err) { FAIL() << sys.render(err); });
  EXPECT_TRUE(info.adopted);
  EXPECT_EQ(info.incarnation, 1u);
  EXPECT_EQ(env.qemu_pid("pcloud-assy1"), pid) << "adopted, not restarted";
}
