// What the service manager hears from pcloudd (runtime/readiness_reporter):
// READY once the VMs of what was running are back, STATUS lines as the
// assemblies change, WATCHDOG pings from an actor timer. A real tree with
// the fake hypervisor and gateway, on the deterministic scheduler; the
// notifications are recorded instead of sent.
#include "runtime/readiness_reporter.hpp"

#include "tests/support/tree_fixture.hpp"

using namespace pcloud;
using namespace pcloud::test;
using strings = std::vector<std::string>;

namespace {

class readiness_reporter_test : public tree_fixture {
public:
  ~readiness_reporter_test() override {
    caf::anon_send_exit(reporter, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Spawns the reporter on the fixture's bus, as the daemon does.
  void spawn_reporter(std::vector<std::string> adopting,
                      caf::timespan watchdog = {}) {
    runtime::readiness_options opts;
    opts.adopting = std::move(adopting);
    opts.adopt_deadline = std::chrono::minutes(2);
    opts.watchdog = watchdog;
    auto sent = notes;
    opts.notify = [sent](const std::string& x) { sent->push_back(x); };
    reporter = sys.spawn(runtime::readiness_reporter, std::move(opts));
    caf::anon_send(bus, caf::subscribe_atom::value,
                   caf::actor_cast<msg::event_listener_actor>(reporter));
    sched.run();
  }

  /// pcloudd takes shell connections now.
  void open() {
    caf::anon_send(reporter, msg::start_atom::value);
    sched.run();
  }

  std::shared_ptr<strings> notes = std::make_shared<strings>();
  runtime::readiness_reporter_actor reporter;
};

} // namespace

TEST_F(readiness_reporter_test, nothing_to_adopt_is_ready_once_shells_get_in) {
  spawn_reporter({});
  EXPECT_TRUE(notes->empty()) << "no READY before the door is open";
  open();
  EXPECT_EQ(*notes, strings{"READY=1\nSTATUS=no assemblies running"});
}

TEST_F(readiness_reporter_test, ready_waits_for_the_adopted_vms) {
  gw->auto_hello = false;
  spawn_reporter({"dep1/assy1"});
  auto dep = start(make_deployable({make_assembly("assy1", {"httpd"})}));
  open();
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ(notes->back(), "STATUS=adopting the VMs of 1 assemblies "
                           "(dep1/assy1); 1 assembly: 1 STARTING");
  // The agent of the adopted VM says hello: back, so ready.
  say_hello("assy1");
  EXPECT_EQ(notes->back(), "READY=1\nSTATUS=1 assembly: 1 ACTIVE");
  // Later changes are STATUS lines.
  kill_vm("assy1");
  EXPECT_EQ(notes->back(), "STATUS=1 assembly: 1 RECOVERING");
  say_hello("assy1");
  EXPECT_EQ(notes->back(), "STATUS=1 assembly: 1 ACTIVE");
  EXPECT_EQ(std::count(notes->begin(), notes->end(),
                       "READY=1\nSTATUS=1 assembly: 1 ACTIVE"),
            1)
    << "READY once";
  EXPECT_EQ(status(dep).state, msg::state::active);
  // Stopped assemblies are not counted, nor kept.
  caf::anon_send(dep, msg::stop_atom::value);
  sched.run();
  EXPECT_EQ(notes->back(), "STATUS=no assemblies running");
}

TEST_F(readiness_reporter_test, ready_at_the_deadline_says_what_still_adopts) {
  gw->auto_hello = false;
  spawn_reporter({"dep1/assy1"});
  // A guest slower than the deadline, not yet failed.
  auto slow = make_assembly("assy1", {"httpd"});
  slow.boot_timeout = std::chrono::minutes(10);
  start(make_deployable({slow}));
  open();
  advance(std::chrono::minutes(2) - 1ms);
  EXPECT_EQ(notes->size(), 1u);
  advance(1ms);
  EXPECT_EQ(notes->back(), "READY=1\nSTATUS=1 assembly: 1 STARTING; still "
                           "adopting dep1/assy1");
}

TEST_F(readiness_reporter_test, the_watchdog_is_pinged_twice_an_interval) {
  spawn_reporter({}, std::chrono::seconds(10));
  EXPECT_EQ(*notes, strings{"WATCHDOG=1"}) << "at once";
  advance(5s);
  advance(5s);
  EXPECT_EQ(std::count(notes->begin(), notes->end(), "WATCHDOG=1"), 3);
}

TEST(describe_assemblies, counts_what_runs) {
  EXPECT_EQ(runtime::describe_assemblies({}), "no assemblies running");
  EXPECT_EQ(runtime::describe_assemblies({{"d/a", msg::state::stopped}}),
            "no assemblies running");
  EXPECT_EQ(runtime::describe_assemblies({{"d/a", msg::state::active},
                                          {"d/b", msg::state::failed},
                                          {"d/c", msg::state::active},
                                          {"e/a", msg::state::recovering}}),
            "4 assemblies: 2 ACTIVE, 1 RECOVERING, 1 FAILED");
}
