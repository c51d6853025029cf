#include "actors/restart_tracker.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using pcloud::actors::restart_tracker;
using pcloud::msg::escalation_policy;

namespace {

restart_tracker::time_point at(caf::timespan offset) {
  return restart_tracker::time_point{} + offset;
}

escalation_policy limit(uint32_t n, caf::timespan window) {
  auto result = pcloud::msg::no_escalation_policy();
  result.max_failures = n;
  result.window = window;
  return result;
}

} // namespace

TEST(restart_tracker, within_the_limit_every_restart_waits_the_same_delay) {
  restart_tracker t{pcloud::msg::default_resource_policy()};
  std::vector<caf::timespan> delays;
  for (int i = 0; i < 5; ++i) {
    // Failures 1 ms apart: well inside the 5 minute backoff reset.
    delays.push_back(t.record_failure(at(i * 1ms)).delay);
  }
  // A second failure is not a longer outage than the first.
  std::vector<caf::timespan> expected{0s, 500ms, 500ms, 500ms, 500ms};
  EXPECT_EQ(delays, expected);
  EXPECT_TRUE(t.record_failure(at(5ms)).escalate);
}

TEST(restart_tracker, a_level_that_never_escalates_backs_off_doubling) {
  auto policy = pcloud::msg::default_assembly_policy();
  policy.max_failures = 0;
  restart_tracker t{policy};
  std::vector<caf::timespan> delays;
  for (int i = 0; i < 10; ++i) {
    delays.push_back(t.record_failure(at(i * 1ms)).delay);
  }
  std::vector<caf::timespan> expected{0s, 500ms, 1s,  2s,  4s,
                                      8s, 16s,   32s, 60s, 60s};
  EXPECT_EQ(delays, expected);
}

TEST(restart_tracker, backoff_resets_after_quiet_period) {
  auto policy = pcloud::msg::default_resource_policy();
  policy.max_failures = 0;
  restart_tracker t{policy};
  EXPECT_EQ(t.record_failure(at(0s)).delay, 0s);
  EXPECT_EQ(t.record_failure(at(1s)).delay, 500ms);
  EXPECT_EQ(t.record_failure(at(3s)).delay, 1s);
  // Five minutes without a failure: the next restart is immediate again.
  EXPECT_EQ(t.record_failure(at(3s + 5min)).delay, 0s);
  EXPECT_EQ(t.record_failure(at(4s + 5min)).delay, 500ms);
}

TEST(restart_tracker, escalates_only_past_the_limit_within_the_window) {
  restart_tracker t{limit(5, 60s)};
  for (int i = 1; i <= 5; ++i) {
    auto d = t.record_failure(at(i * 1s));
    EXPECT_FALSE(d.escalate) << "failure " << i;
    EXPECT_EQ(d.failures, static_cast<uint32_t>(i));
  }
  auto sixth = t.record_failure(at(6s));
  EXPECT_TRUE(sixth.escalate);
  EXPECT_EQ(sixth.failures, 6u);
}

TEST(restart_tracker, failures_spaced_wider_than_the_window_never_escalate) {
  restart_tracker t{limit(2, 10s)};
  for (int i = 0; i < 50; ++i) {
    auto d = t.record_failure(at(i * 11s));
    EXPECT_FALSE(d.escalate) << "failure " << i;
    EXPECT_EQ(d.failures, 1u);
  }
}

TEST(restart_tracker, failure_after_expired_window_counts_as_one_not_zero) {
  // pacemaker-cloud reset its counter to 0 when a failure found the window
  // expired, which let one extra failure through before escalating.
  restart_tracker t{limit(2, 10s)};
  EXPECT_EQ(t.record_failure(at(0s)).failures, 1u);
  EXPECT_EQ(t.record_failure(at(11s)).failures, 1u);
  EXPECT_EQ(t.record_failure(at(12s)).failures, 2u);
  EXPECT_TRUE(t.record_failure(at(13s)).escalate);
}

TEST(restart_tracker, window_slides_rather_than_resets) {
  restart_tracker t{limit(2, 10s)};
  t.record_failure(at(0s));
  t.record_failure(at(6s));
  // At 11 s the failure at 0 s has left the window but the one at 6 s has not.
  auto d = t.record_failure(at(11s));
  EXPECT_EQ(d.failures, 2u);
  EXPECT_FALSE(d.escalate);
  EXPECT_TRUE(t.record_failure(at(12s)).escalate);
  EXPECT_EQ(t.failures_in_window(at(12s)), 3u);
  EXPECT_EQ(t.failures_in_window(at(30s)), 0u);
}

TEST(restart_tracker, no_escalation_policy_never_escalates_nor_backs_off) {
  restart_tracker t{pcloud::msg::no_escalation_policy()};
  for (int i = 0; i < 1000; ++i) {
    auto d = t.record_failure(at(i * 1ms));
    ASSERT_FALSE(d.escalate);
    ASSERT_EQ(d.delay, 0s);
  }
}

TEST(restart_tracker, reset_forgets_failures_and_backoff) {
  restart_tracker t{limit(1, 60s)};
  t.record_failure(at(0s));
  t.reset();
  auto d = t.record_failure(at(1s));
  EXPECT_EQ(d.failures, 1u);
  EXPECT_FALSE(d.escalate);
}
