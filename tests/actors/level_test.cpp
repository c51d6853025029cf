// The questions a deployable asks of its children's states.
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

actors::level::children of(std::vector<msg::assembly_status> xs) {
  actors::level::children result;
  for (auto& x : xs) {
    result[x.name] = x;
  }
  return result;
}

} // namespace

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
  xs["a2"].resources[1].state = state::recovering;
  EXPECT_FALSE(actors::level::all_active(xs));
  EXPECT_EQ(actors::level::first_not_active(xs), "a2/r2 RECOVERING");
  xs["a2"].state = state::starting;
  EXPECT_EQ(actors::level::first_not_active(xs), "a2 STARTING")
    << "the assembly comes before its resources";
  xs["a1"].resources[0].state = state::failed;
  EXPECT_EQ(actors::level::first_not_active(xs), "a1/r1 FAILED")
    << "assemblies in name order";
}

TEST(level, all_stopped_looks_at_assemblies_only) {
  auto xs = of({assembly("a1", state::stopped, {state::active}),
                assembly("a2", state::stopped)});
  EXPECT_TRUE(actors::level::all_stopped(xs));
  xs["a2"].state = state::failed;
  EXPECT_FALSE(actors::level::all_stopped(xs));
}
