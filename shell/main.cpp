// pcloudsh: the operator shell of pcloud.
//
//   pcloudsh                    interactive (a terminal): history, tab
//                               completion, live events
//   pcloudsh COMMAND ARGS...    one command, then exit
//   pcloudsh < script           one command per line; stops at the first
//                               failure
//
// Exit status: from the error's code (msg::exit_status): 0 success, 1
// internal, 2 invalid argument or usage, 3 pcloudd unavailable, 4 permission
// denied, 5 not found, 6 exists, 7 in use, 8 wrong state.
//
// The parts: options.cpp (the command line), client.cpp (the link to
// pcloudd), session.cpp (running commands, events), console.cpp,
// interactive.cpp (readline), render.cpp (tables, JSON).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <caf/all.hpp>

#include "shell/session.hpp"

namespace {

namespace msg = pcloud::msg;
using namespace pcloud::shell;

/// A failure before a session: reported as a session reports one.
[[noreturn]] void die(const msg::error& err, bool json) {
  std::exit(report_failure(err, json));
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  if (auto bad = parse_options(argc, argv, opts)) {
    die(bad, opts.json);
  }
  if (opts.show_help) {
    print_usage(stdout);
    return 0;
  }
  if (opts.show_version) {
    std::printf("pcloudsh %s\n", PCLOUD_VERSION);
    return 0;
  }
  if (!opts.command.empty()) {
    // Commands that need no daemon.
    if (msg::find_command(opts.command[0]) == nullptr) {
      die(msg::unknown_command(opts.command[0]), opts.json);
    }
    if (opts.command[0] == "help") {
      if (auto bad
          = print_help({opts.command.begin() + 1, opts.command.end()})) {
        die(bad, opts.json);
      }
      return 0;
    }
  }
  std::string error;
  if (!read_token(opts.token_file, opts.where.token, error)) {
    die({msg::errc::permission_denied, error}, opts.json);
  }
  client_config cfg{opts.where, opts.tls_certificate, opts.tls_key,
                    opts.tls_cafile};
  caf::actor_system sys{cfg};
  msg::error failure;
  auto c = client::connect(sys, opts.where, opts.connect_timeout, failure);
  if (!c) {
    die(failure, opts.json);
  }
  int rc;
  {
    session s{sys, opts, std::move(c)};
    if (!opts.command.empty()) {
      rc = s.run(opts.command);
    } else if (::isatty(STDIN_FILENO)) {
      rc = s.interactive();
    } else {
      rc = s.script();
    }
  }
  std::cout.flush();
  // Proxies of the remote node keep the system busy: leave without waiting.
  std::_Exit(rc);
}
