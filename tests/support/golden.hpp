// Golden files: what a pure translation produces, compared byte for byte
// with a reviewed file. After an intended change, regenerate with
// PCLOUD_REGENERATE=1 and review the diff line by line.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace pcloud::test {

inline void expect_golden(const std::string& path, const std::string& actual) {
  if (std::getenv("PCLOUD_REGENERATE") != nullptr) {
    std::ofstream{path} << actual;
  }
  std::ifstream in{path};
  ASSERT_TRUE(in) << "missing golden file " << path;
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "differs from " << path;
}

} // namespace pcloud::test
