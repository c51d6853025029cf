#include "runtime/logging.hpp"

#include <sys/stat.h>

#include <cstdio>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace pcloud::runtime {

std::string configure_logging(const log_options& opts) {
  auto level = spdlog::level::from_str(opts.level);
  // from_str maps anything it does not know to "off".
  if (level == spdlog::level::off && opts.level != "off") {
    return "unknown log level '" + opts.level
           + "' (trace, debug, info, warn, error, critical, off)";
  }
  // The new logger is complete before it replaces the old one: a file that
  // cannot be opened leaves the previous logger in place.
  std::shared_ptr<spdlog::logger> logger;
  try {
    spdlog::sink_ptr sink;
    if (opts.file.empty()) {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
      // The log tells what guests and peers did: for root only, and kept
      // to max_size x (max_files + 1) bytes however long pcloudd runs.
      spdlog::file_event_handlers handlers;
      handlers.after_open = [](const spdlog::filename_t&, std::FILE* f) {
        ::fchmod(::fileno(f), 0600);
      };
      sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        opts.file, opts.max_size, opts.max_files, false, handlers);
    }
    logger = std::make_shared<spdlog::logger>("pcloud", std::move(sink));
  } catch (const spdlog::spdlog_ex& ex) {
    return "cannot set up logging: " + std::string{ex.what()};
  }
  logger->set_level(level);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return {};
}

} // namespace pcloud::runtime
