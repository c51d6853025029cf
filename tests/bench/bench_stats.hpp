// What every benchmark prints for a series of latencies.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

namespace pcloud::bench {

struct stats {
  double median;
  double p95;
};

/// Prints median, p95, min and max of `xs` (milliseconds) after `what`, then
/// `note` (the goal, or how it was measured); returns median and p95.
inline stats print_stats(const char* what, std::vector<double> xs,
                         const char* note = "") {
  if (xs.empty()) {
    std::printf("%-26s no trial completed   %s\n", what, note);
    return {0, 0};
  }
  std::sort(xs.begin(), xs.end());
  auto pct = [&](double p) {
    return xs[std::min(xs.size() - 1, static_cast<size_t>(p * xs.size()))];
  };
  std::printf("%-26s median %8.3f ms   p95 %8.3f ms   min %8.3f   max %8.3f"
              "   %s\n",
              what, pct(0.5), pct(0.95), xs.front(), xs.back(), note);
  return {pct(0.5), pct(0.95)};
}

/// Waits a random time up to `spread` before a trial: with the peer's check
/// interval as the spread, a failure lands anywhere in that interval, as
/// failures do, rather than right after a check (the worst case).
inline void pause_up_to(std::chrono::milliseconds spread) {
  static std::mt19937 rng{std::random_device{}()};
  std::this_thread::sleep_for(std::chrono::milliseconds{
    std::uniform_int_distribution<long>{0, spread.count()}(rng)});
}

} // namespace pcloud::bench
