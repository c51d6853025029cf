#include "runtime/logging.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

using pcloud::runtime::configure_logging;

TEST(logging, unknown_level_is_refused_with_the_valid_ones) {
  auto err = configure_logging({"loud", ""});
  EXPECT_NE(err.find("unknown log level 'loud'"), std::string::npos) << err;
  EXPECT_NE(err.find("debug"), std::string::npos) << err;
}

TEST(logging, writes_to_the_configured_file) {
  auto path = ::testing::TempDir() + "pcloud-logging-test.log";
  std::remove(path.c_str());
  ASSERT_EQ(configure_logging({"info", path}), "");
  spdlog::debug("not at info");
  spdlog::warn("assy1 lost");
  spdlog::default_logger()->flush();
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("assy1 lost"), std::string::npos);
  EXPECT_EQ(text.str().find("not at info"), std::string::npos);
  ASSERT_EQ(configure_logging({"warn", ""}), "") << "can be reconfigured";
}

TEST(logging, unwritable_file_is_an_error_not_a_crash) {
  auto err = configure_logging({"info", "/dev/null/pcloud.log"});
  EXPECT_NE(err.find("cannot set up logging"), std::string::npos) << err;
  ASSERT_NE(spdlog::default_logger(), nullptr) << "the old logger stays";
  spdlog::info("still logging");
}
