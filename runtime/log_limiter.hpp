// Keeps a warning that repeats from one source (an agent that reconnects
// with the wrong secret every half second) from burying the rest of the log.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

namespace pcloud::runtime {

/// Says which occurrences of a repeating warning to log: the first of each
/// key, then at most one per `interval`; the ones left out in between are
/// counted into the next one logged.
class log_limiter {
public:
  using clock = std::chrono::steady_clock;

  explicit log_limiter(clock::duration interval = std::chrono::seconds(60),
                       size_t max_keys = 1024);

  /// Whether to log this occurrence of `key`; when it is, `left_out` is how
  /// many of that key were not logged since the last one that was.
  bool admit(const std::string& key, clock::time_point now, size_t& left_out);

  /// Keys remembered: at most `max_keys`; beyond that, quiet ones are
  /// forgotten and new ones logged without being remembered.
  size_t keys() const { return keys_.size(); }

private:
  struct occurrences {
    clock::time_point logged_at;
    size_t left_out = 0;
  };

  clock::duration interval_;
  size_t max_keys_;
  std::map<std::string, occurrences> keys_;
};

} // namespace pcloud::runtime
