// pcloudsh's command line: where pcloudd is, its token, TLS, --json, and the
// command to run. Hand-parsed rather than with CLI11: the options are few,
// and every mistake must be one line with pcloudsh's own exit status.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "messages/error.hpp"
#include "shell/client.hpp"

namespace pcloud::shell {

struct options {
  endpoint where;
  std::string token_file = "/var/lib/pcloud/shell.token";
  bool json = false;
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  /// jeos_create can take long; everything else answers at once.
  std::chrono::milliseconds build_timeout = std::chrono::minutes(60);
  std::chrono::milliseconds timeout = std::chrono::seconds(120);
  std::vector<std::string> command;
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_cafile;
  /// --help or --version was given: print it and exit 0.
  bool show_help = false;
  bool show_version = false;
};

/// The usage text of --help.
void print_usage(FILE* out);

/// Parses a unix socket path (starting with /) or "HOST:PORT"; false when
/// it is neither.
bool parse_endpoint(const std::string& text, endpoint& where);

/// Parses the command line and $PCLOUDSH_CONNECT, $PCLOUDSH_TOKEN_FILE;
/// invalid_argument with a one-line message on a mistake.
msg::error parse_options(int argc, char** argv, options& opts);

/// Splits a line into words; "double" and 'single' quotes keep spaces, '#'
/// starts a comment. False and `error` on an unterminated quote.
bool split_words(const std::string& line, std::vector<std::string>& words,
                 std::string& error);

} // namespace pcloud::shell
