// The assembly's and the deployable's tables: every state x event pair is
// either the row written out below or impossible, every row can happen, and
// the diagram at the top of each actor's file shows its table.
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "actors/assembly_machine.hpp"
#include "actors/deployable_machine.hpp"

using namespace pcloud;
using namespace pcloud::actors;

namespace {

/// The next state for each state, in the order of machine::all_states
/// (STOPPED, STARTING, ACTIVE, RECOVERING, FAILED); "-" when impossible.
using expected_row = std::array<const char*, 5>;

template <class Event>
void expect_matrix(const std::map<Event, expected_row>& expected) {
  for (auto& [event, tos] : expected) {
    for (size_t i = 0; i < machine::all_states.size(); ++i) {
      auto from = machine::all_states[i];
      auto row = next(from, event);
      EXPECT_EQ(row ? msg::to_string(row->to) : "-", tos[i])
        << to_string(event) << " in " << msg::to_string(from);
    }
  }
}

/// Each (state, event) pair has at most one row, and each row leaves from
/// states that the table can reach from STOPPED.
template <class Table>
void expect_well_formed(const Table& table) {
  std::set<std::pair<msg::state, int>> seen;
  std::set<msg::state> reached{msg::state::stopped};
  for (bool grew = true; grew;) {
    grew = false;
    for (auto& r : table) {
      for (auto s : machine::all_states) {
        if (r.from.has(s) && reached.count(s) > 0) {
          grew |= reached.insert(r.to).second;
        }
      }
    }
  }
  EXPECT_EQ(reached.size(), machine::all_states.size());
  for (auto& r : table) {
    bool any = false;
    for (auto s : machine::all_states) {
      if (r.from.has(s)) {
        any = true;
        EXPECT_TRUE(seen.emplace(s, static_cast<int>(r.event)).second)
          << "two rows for " << to_string(r.event) << " in "
          << msg::to_string(s);
      }
    }
    EXPECT_TRUE(any) << to_string(r.event) << " leaves from no state";
  }
}

/// The diagram lines ("  STOPPED --start--> STARTING") of the comment at the
/// top of a source file, as machine::diagram() writes them.
std::string diagram_in(const std::string& path) {
  std::ifstream in{std::string{PCLOUD_SOURCE_DIR} + "/" + path};
  EXPECT_TRUE(in.is_open()) << path;
  std::string result;
  std::string line;
  while (std::getline(in, line) && line.rfind("//", 0) == 0) {
    if (line.find("-->") != std::string::npos) {
      result += line.substr(3) + "\n";
    }
  }
  return result;
}

} // namespace

TEST(assembly_machine, every_state_and_event) {
  using E = assembly_event;
  // clang-format off
  std::map<assembly_event, expected_row> expected{
    //                 STOPPED       STARTING      ACTIVE        RECOVERING    FAILED
    {E::start,       {"STARTING",   "-",          "-",          "-",          "STARTING"}},
    {E::hello,       {"-",          "ACTIVE",     "-",          "ACTIVE",     "-"}},
    {E::vm_failed,   {"-",          "RECOVERING", "RECOVERING", "RECOVERING", "-"}},
    {E::gave_up,     {"-",          "FAILED",     "FAILED",     "FAILED",     "-"}},
    {E::restart,     {"RECOVERING", "RECOVERING", "RECOVERING", "RECOVERING", "RECOVERING"}},
    {E::shut_down,   {"-",          "STOPPED",    "STOPPED",    "STOPPED",    "STOPPED"}},
    {E::stop_failed, {"-",          "FAILED",     "FAILED",     "FAILED",     "FAILED"}},
  };
  // clang-format on
  ASSERT_EQ(expected.size(), all_assembly_events.size());
  expect_matrix(expected);
}

TEST(assembly_machine, rows_are_reachable_and_unique) {
  expect_well_formed(assembly_table);
}

TEST(assembly_machine, diagram_of_assembly_cpp_shows_the_table) {
  EXPECT_EQ(diagram_in("actors/assembly.cpp"),
            machine::diagram(assembly_table));
}

TEST(deployable_machine, every_state_and_event) {
  using E = deployable_event;
  // clang-format off
  std::map<deployable_event, expected_row> expected{
    //                   STOPPED     STARTING      ACTIVE        RECOVERING    FAILED
    {E::start,         {"STARTING", "STARTING",   "STARTING",   "STARTING",   "STARTING"}},
    {E::all_active,    {"-",        "ACTIVE",     "-",          "ACTIVE",     "-"}},
    {E::degraded,      {"-",        "-",          "RECOVERING", "-",          "-"}},
    {E::escalated,     {"-",        "RECOVERING", "RECOVERING", "RECOVERING", "-"}},
    {E::limit_reached, {"-",        "FAILED",     "FAILED",     "FAILED",     "-"}},
    {E::policy_stop,   {"-",        "FAILED",     "FAILED",     "FAILED",     "-"}},
    {E::all_stopped,   {"-",        "STOPPED",    "STOPPED",    "STOPPED",    "STOPPED"}},
  };
  // clang-format on
  ASSERT_EQ(expected.size(), all_deployable_events.size());
  expect_matrix(expected);
}

TEST(deployable_machine, rows_are_reachable_and_unique) {
  expect_well_formed(deployable_table);
}

TEST(deployable_machine, diagram_of_deployable_cpp_shows_the_table) {
  EXPECT_EQ(diagram_in("actors/deployable.cpp"),
            machine::diagram(deployable_table));
}

TEST(machine, diagram_has_one_line_per_row) {
  EXPECT_EQ(
    machine::diagram(deployable_table),
    "  any --start--> STARTING\n"
    "  STARTING, RECOVERING --all_active--> ACTIVE\n"
    "  ACTIVE --degraded--> RECOVERING\n"
    "  STARTING, ACTIVE, RECOVERING --escalated--> RECOVERING\n"
    "  STARTING, ACTIVE, RECOVERING --limit_reached--> FAILED\n"
    "  STARTING, ACTIVE, RECOVERING --policy_stop--> FAILED\n"
    "  STARTING, ACTIVE, RECOVERING, FAILED --all_stopped--> STOPPED\n");
}
