// pcloud's one error type: every code has a name and an exit status of its
// own, and an error keeps its code and message as a caf::error, which is how
// it travels between actors and over the remote link.
#include "messages/error.hpp"

#include <set>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/sec.hpp>

#include "messages/shell.hpp"
#include "messages/type_ids.hpp"

using namespace pcloud;
using msg::errc;

TEST(error, every_code_has_its_own_name_and_exit_status) {
  std::set<std::string> names;
  std::set<int> statuses;
  for (auto code : msg::all_errcs) {
    names.insert(msg::to_string(code));
    statuses.insert(msg::exit_status(code));
  }
  auto n = std::size(msg::all_errcs);
  EXPECT_EQ(names.size(), n);
  EXPECT_EQ(statuses.size(), n);
  EXPECT_EQ(msg::exit_status(errc::none), 0);
  // The statuses pcloudsh had before codes existed keep their meaning.
  EXPECT_EQ(msg::exit_status(errc::internal), 1);
  EXPECT_EQ(msg::exit_status(errc::invalid_argument), 2);
  EXPECT_EQ(msg::exit_status(errc::unavailable), 3);
  EXPECT_EQ(msg::to_string(errc::not_found), "not_found");
}

TEST(error, travels_as_a_caf_error_with_code_and_message) {
  for (auto code : msg::all_errcs) {
    if (code == errc::none) {
      continue;
    }
    auto err = msg::make_error(code, "why " + msg::to_string(code));
    EXPECT_TRUE(static_cast<bool>(err));
    auto back = msg::to_error(err);
    EXPECT_EQ(back.code, code);
    EXPECT_EQ(back.message, "why " + msg::to_string(code));
  }
  EXPECT_FALSE(msg::to_error(caf::error{}));
}

TEST(error, cafs_own_errors_are_unavailable_or_internal) {
  auto timeout = msg::to_error(caf::make_error(caf::sec::request_timeout));
  EXPECT_EQ(timeout.code, errc::unavailable);
  EXPECT_EQ(timeout.message, "no answer in time");
  EXPECT_EQ(
    msg::to_error(caf::make_error(caf::sec::request_receiver_down)).code,
    errc::unavailable);
  auto other = msg::to_error(
    caf::make_error(caf::sec::runtime_error, std::string{"disk full"}));
  EXPECT_EQ(other.code, errc::internal);
  EXPECT_EQ(other.message, "disk full");
  // A code from a newer peer that this build does not know.
  auto unknown = msg::to_error(
    caf::error{200, caf::atom("pcloud"), caf::make_message(std::string{"x"})});
  EXPECT_EQ(unknown.code, errc::internal);
}

TEST(error, context_and_replies_keep_the_code) {
  auto err = msg::with_context({errc::exists, "disk"}, "not saved: ");
  EXPECT_EQ(err.code, errc::exists);
  EXPECT_EQ(err.message, "not saved: disk");
  auto r = msg::failed_reply(err);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.code, errc::exists);
  // A failed reply is never mistaken for success.
  EXPECT_EQ(msg::failed_reply({}).code, errc::internal);
}

TEST(error, renders_by_its_category_in_an_actor_system) {
  caf::actor_system_config cfg;
  msg::add_message_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  caf::actor_system sys{cfg};
  EXPECT_EQ(sys.render(msg::make_error(errc::in_use, "used by a1")),
            "in_use: used by a1");
}
