// The one place where pcloud's programs set up spdlog.
#pragma once

#include <string>

namespace pcloud::runtime {

struct log_options {
  /// trace, debug, info, warn, error, critical or off.
  std::string level = "info";
  /// Empty: standard error. Otherwise appended to this file.
  std::string file;
};

/// Configures the default logger. Returns an error message for an unknown
/// level or a file that cannot be opened, and leaves logging as it was then.
[[nodiscard]] std::string configure_logging(const log_options& opts);

} // namespace pcloud::runtime
