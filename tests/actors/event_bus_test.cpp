#include "tests/support/tree_fixture.hpp"

using namespace pcloud;
using namespace pcloud::test;

namespace {

msg::event named(std::string deployable) {
  msg::event ev;
  ev.deployable = std::move(deployable);
  ev.state = msg::state::active;
  return ev;
}

} // namespace

TEST_F(tree_fixture, bus_numbers_events_and_delivers_them_in_order) {
  auto second = std::make_shared<std::vector<msg::event>>();
  auto rec2 = spawn_event_recorder(sys, second);
  caf::anon_send(bus, caf::subscribe_atom::value, rec2);
  sched.run();
  for (int i = 0; i < 100; ++i) {
    caf::anon_send(bus, caf::publish_atom::value,
                   named("d" + std::to_string(i)));
  }
  sched.run();
  ASSERT_EQ(events->size(), 100u);
  ASSERT_EQ(second->size(), 100u);
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ((*events)[i].sequence, i + 1);
    EXPECT_EQ((*events)[i].deployable, "d" + std::to_string(i));
    EXPECT_EQ((*second)[i].sequence, i + 1);
  }
  caf::anon_send_exit(rec2, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST_F(tree_fixture, bus_forgets_subscribers_that_leave_or_die) {
  auto gone = std::make_shared<std::vector<msg::event>>();
  auto rec2 = spawn_event_recorder(sys, gone);
  caf::anon_send(bus, caf::subscribe_atom::value, rec2);
  caf::anon_send(bus, caf::unsubscribe_atom::value, recorder);
  sched.run();
  caf::anon_send(bus, caf::publish_atom::value, named("a"));
  sched.run();
  EXPECT_TRUE(events->empty()) << "unsubscribed";
  EXPECT_EQ(gone->size(), 1u);
  caf::anon_send_exit(rec2, caf::exit_reason::user_shutdown);
  sched.run();
  caf::anon_send(bus, caf::publish_atom::value, named("b"));
  sched.run(); // must not fail delivering to the dead subscriber
  EXPECT_EQ(gone->size(), 1u);
}

TEST_F(tree_fixture, bus_keeps_bounded_history) {
  auto small = sys.spawn(actors::event_bus, size_t{3});
  for (int i = 0; i < 5; ++i) {
    caf::anon_send(small, caf::publish_atom::value,
                   named("d" + std::to_string(i)));
  }
  sched.run();
  caf::scoped_actor self{sys};
  self->send(small, caf::get_atom::value);
  sched.run();
  std::vector<msg::event> history;
  self->receive([&](std::vector<msg::event>& xs) { history = std::move(xs); },
                caf::after(std::chrono::seconds(0)) >> [] {});
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history.front().deployable, "d2");
  EXPECT_EQ(history.back().sequence, 5u);
  caf::anon_send_exit(small, caf::exit_reason::user_shutdown);
  sched.run();
}
