// What every benchmark prints for a series of latencies.
#pragma once

#include <algorithm>
#include <cstdio>
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

} // namespace pcloud::bench
