// The one place where pcloud's programs set up spdlog.
#pragma once

#include <cstddef>
#include <string>

namespace pcloud::runtime {

struct log_options {
  /// trace, debug, info, warn, error, critical or off.
  std::string level = "info";
  /// Empty: standard error. Otherwise appended to this file (mode 0600),
  /// which is renamed (pcloudd.log to pcloudd.1.log, that one to
  /// pcloudd.2.log, ...) once it reaches max_size bytes; at most max_files
  /// old ones are kept.
  std::string file;
  size_t max_size = 10 * 1024 * 1024;
  size_t max_files = 5;
};

/// Configures the default logger. Returns an error message for an unknown
/// level or a file that cannot be opened, and leaves logging as it was then.
[[nodiscard]] std::string configure_logging(const log_options& opts);

} // namespace pcloud::runtime
