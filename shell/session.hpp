// One pcloudsh session with pcloudd: runs commands (one, a script, or
// interactively), prints their replies, events and errors, and turns each
// error's code into the exit status.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "messages/error.hpp"
#include "shell/client.hpp"
#include "shell/events.hpp"
#include "shell/options.hpp"

namespace pcloud::shell {

/// `help [COMMAND]`: every command, or one with its arguments (needs no
/// daemon); invalid_argument for an unknown command.
msg::error print_help(const std::vector<std::string>& args);

/// Prints `err` on standard error (and as a JSON object on standard output
/// with `json`); returns its exit status.
int report_failure(const msg::error& err, bool json);

class session {
public:
  session(caf::actor_system& sys, options opts, std::unique_ptr<client> c);
  ~session();

  /// Runs one command; prints its result. Returns the exit status.
  int run(const std::vector<std::string>& words);

  /// One command per line of standard input; stops at the first failure.
  int script();

  /// A terminal: readline, Tab completion, events shown live
  /// (interactive.cpp).
  int interactive();

  client& remote() { return *client_; }

  const options& opts() const { return opts_; }

  /// Prints the error (also as JSON with --json); returns its exit status.
  int fail(const msg::error& err);

  int fail(msg::errc code, const std::string& message) {
    return fail(msg::error{code, message});
  }

private:
  bool subscribe(msg::error& error);

  /// `events`: the recent history, then every event until Ctrl-C.
  int follow_events();

  /// `assembly_console NAME`: the guest's serial console until Ctrl-] or
  /// the end of standard input (console.cpp).
  int console(const std::string& assembly);

  caf::actor_system& sys_;
  options opts_;
  std::unique_ptr<client> client_;
  std::shared_ptr<event_queue> events_;
  /// The newest event of the history `subscribe` got: later ones are live.
  uint64_t history_end_ = 0;
  msg::event_listener_actor listener_;
  bool quit_ = false;
};

} // namespace pcloud::shell
