#include "runtime/log_limiter.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using pcloud::runtime::log_limiter;

namespace {

const log_limiter::clock::time_point t0{};

TEST(log_limiter, logs_the_first_then_one_per_interval_with_the_count) {
  log_limiter limit{60s};
  size_t left_out = 99;
  ASSERT_TRUE(limit.admit("10.0.2.15 wrong secret", t0, left_out));
  EXPECT_EQ(left_out, 0u);
  // An agent retrying every half second for a minute: nothing logged.
  for (int i = 1; i < 120; ++i) {
    EXPECT_FALSE(
      limit.admit("10.0.2.15 wrong secret", t0 + i * 500ms, left_out))
      << "retry " << i;
  }
  ASSERT_TRUE(limit.admit("10.0.2.15 wrong secret", t0 + 60s, left_out));
  EXPECT_EQ(left_out, 119u);
  EXPECT_FALSE(limit.admit("10.0.2.15 wrong secret", t0 + 61s, left_out));
  // Quiet for longer than the interval: the next one says what it missed.
  ASSERT_TRUE(limit.admit("10.0.2.15 wrong secret", t0 + 10min, left_out));
  EXPECT_EQ(left_out, 1u);
}

TEST(log_limiter, keys_are_limited_apart) {
  log_limiter limit{60s};
  size_t left_out = 0;
  EXPECT_TRUE(limit.admit("10.0.2.15 wrong secret", t0, left_out));
  EXPECT_TRUE(limit.admit("10.0.2.16 wrong secret", t0 + 1s, left_out));
  EXPECT_TRUE(limit.admit("10.0.2.15 no hello", t0 + 2s, left_out));
  EXPECT_FALSE(limit.admit("10.0.2.16 wrong secret", t0 + 3s, left_out));
}

TEST(log_limiter, many_sources_do_not_grow_it_without_bound) {
  log_limiter limit{60s, 100};
  size_t left_out = 0;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(
      limit.admit("source " + std::to_string(i), t0 + i * 1min, left_out));
  }
  EXPECT_LE(limit.keys(), 100u);
  // All busy within their interval: the first ones stay limited, the rest
  // are logged each time rather than grow the map.
  log_limiter busy{60s, 10};
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(busy.admit("source " + std::to_string(i), t0, left_out));
  }
  EXPECT_EQ(busy.keys(), 10u);
  EXPECT_FALSE(busy.admit("source 0", t0 + 1s, left_out));
  EXPECT_TRUE(busy.admit("source 15", t0 + 1s, left_out));
}

} // namespace
