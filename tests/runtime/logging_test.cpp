#include "runtime/logging.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

using pcloud::runtime::configure_logging;
using pcloud::runtime::log_options;

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

TEST(logging_security, the_log_is_for_root_and_never_outgrows_its_cap) {
  auto base = ::testing::TempDir() + "pcloud-logging-cap";
  auto path = base + ".log";
  for (auto suffix : {"", ".1", ".2", ".3"}) {
    std::remove((base + suffix + ".log").c_str());
  }
  log_options opts{"info", path};
  opts.max_size = 64 * 1024;
  opts.max_files = 2;
  ASSERT_EQ(configure_logging(opts), "");
  // A guest or peer that makes pcloudd log without end: 1 MB of lines.
  for (int i = 0; i < 10000; ++i) {
    spdlog::warn("agent of assy{} closed: protocol violation {}", i,
                 std::string(60, 'x'));
  }
  spdlog::default_logger()->flush();
  size_t total = 0;
  for (auto suffix : {"", ".1", ".2"}) {
    struct stat st {};
    ASSERT_EQ(::stat((base + suffix + ".log").c_str(), &st), 0) << suffix;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << suffix;
    total += static_cast<size_t>(st.st_size);
  }
  EXPECT_LE(total, 3 * opts.max_size);
  struct stat st {};
  EXPECT_NE(::stat((base + ".3.log").c_str(), &st), 0) << "2 old ones at most";
  ASSERT_EQ(configure_logging({"warn", ""}), "");
}

TEST(logging, unwritable_file_is_an_error_not_a_crash) {
  auto err = configure_logging({"info", "/dev/null/pcloud.log"});
  EXPECT_NE(err.find("cannot set up logging"), std::string::npos) << err;
  ASSERT_NE(spdlog::default_logger(), nullptr) << "the old logger stays";
  spdlog::info("still logging");
}
