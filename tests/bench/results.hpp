// What a benchmark measured, as records the report (tests/bench/report.py)
// turns into doc/performance.md: one JSON object a line, appended to the
// file named by PCLOUD_BENCH_RESULTS (nothing is written without it).
//
// A record is one peer in one case: its raw samples (the report computes n,
// median, p95, min and max), the trials dropped and why, the goal, or why
// the peer could not run ("n/a").
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pcloud::bench {

struct figure {
  /// Stable identifier the report and the CI gates refer to ("host-kill").
  std::string case_id;
  /// What was done, as a reader says it.
  std::string case_title;
  /// Who recovered: "pcloud", "floor", "supervisord", "Pacemaker 1 s", ...
  std::string peer;
  /// Where each sample ends ("client gets HTTP 200 again").
  std::string end_point;
  std::string unit = "ms";
  std::vector<double> samples;
  /// Reason -> trials dropped for it.
  std::map<std::string, int> dropped;
  /// The goal for the median, in `unit`; none: no goal for this peer.
  std::optional<double> goal_median;
  /// Why this peer did not run; set: no samples.
  std::string not_applicable;
  /// How it was set up (monitor interval, settings).
  std::string setting;
};

/// Appends `f` to the results file, if one is named.
inline void record(const figure& f) {
  const char* path = std::getenv("PCLOUD_BENCH_RESULTS");
  if (path == nullptr || *path == '\0') {
    return;
  }
  nlohmann::json j{{"case", f.case_id},     {"title", f.case_title},
                   {"peer", f.peer},        {"end_point", f.end_point},
                   {"unit", f.unit},        {"samples", f.samples},
                   {"dropped", f.dropped},  {"setting", f.setting},
                   {"na", f.not_applicable}};
  if (f.goal_median) {
    j["goal_median"] = *f.goal_median;
  }
  std::ofstream{path, std::ios::app} << j.dump() << '\n';
}

} // namespace pcloud::bench
