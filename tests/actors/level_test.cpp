// A level's children: their latest statuses, and the questions a deployable
// asks of them.
#include "actors/level.hpp"

#include <gtest/gtest.h>

using namespace pcloud;
using msg::state;

namespace {

msg::assembly_status assembly(std::string name, state s,
                              std::vector<state> resources = {}) {
  msg::assembly_status result;
  result.name = name;
  result.state = s;
  for (size_t i = 0; i < resources.size(); ++i) {
    msg::resource_status r;
    r.name = "r" + std::to_string(i + 1);
    r.state = resources[i];
    result.resources.push_back(r);
  }
  return result;
}

actors::level::assemblies of(std::vector<msg::assembly_status> xs) {
  actors::level::assemblies result;
  for (auto& x : xs) {
    result.add(x.name, msg::assembly_actor{});
    result.update(x);
  }
  return result;
}

} // namespace

TEST(level, children_start_stopped_and_keep_their_latest_status) {
  actors::level::resources xs;
  xs.add("httpd", msg::resource_actor{});
  xs.add("db", msg::resource_actor{});
  ASSERT_EQ(xs.size(), 2u);
  msg::resource_status st;
  st.name = "httpd";
  st.state = state::active;
  EXPECT_TRUE(xs.update(st));
  st.name = "unknown";
  EXPECT_FALSE(xs.update(st));
  auto all = xs.statuses();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "db") << "in name order";
  EXPECT_EQ(all[0].state, state::stopped);
  EXPECT_EQ(all[1].state, state::active);
  EXPECT_NE(xs.find("db"), nullptr);
  EXPECT_EQ(xs.find("unknown"), nullptr);
  xs.add("httpd", msg::resource_actor{});
  EXPECT_EQ(xs.find("httpd")->status.state, state::stopped)
    << "a replaced child starts afresh";
}

TEST(level, no_children_are_all_active_and_all_stopped) {
  EXPECT_TRUE(actors::level::all_active({}));
  EXPECT_TRUE(actors::level::all_stopped({}));
  EXPECT_EQ(actors::level::first_not_active({}), "");
}

TEST(level, all_active_needs_every_assembly_and_resource) {
  auto xs = of({assembly("a1", state::active, {state::active}),
                assembly("a2", state::active, {state::active, state::active})});
  EXPECT_TRUE(actors::level::all_active(xs));
  EXPECT_EQ(actors::level::first_not_active(xs), "");
  auto a2 = xs.find("a2")->status;
  a2.resources[1].state = state::recovering;
  xs.update(a2);
  EXPECT_FALSE(actors::level::all_active(xs));
  EXPECT_EQ(actors::level::first_not_active(xs), "a2/r2 RECOVERING");
  a2.state = state::starting;
  xs.update(a2);
  EXPECT_EQ(actors::level::first_not_active(xs), "a2 STARTING")
    << "the assembly comes before its resources";
  auto a1 = xs.find("a1")->status;
  a1.resources[0].state = state::failed;
  xs.update(a1);
  EXPECT_EQ(actors::level::first_not_active(xs), "a1/r1 FAILED")
    << "assemblies in name order";
}

TEST(level, all_stopped_looks_at_assemblies_only) {
  auto xs = of({assembly("a1", state::stopped, {state::active}),
                assembly("a2", state::stopped)});
  EXPECT_TRUE(actors::level::all_stopped(xs));
  xs.update(assembly("a2", state::failed));
  EXPECT_FALSE(actors::level::all_stopped(xs));
}
