#include "shell/session.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

#include <caf/all.hpp>

#include "shell/build_progress.hpp"
#include "shell/render.hpp"

namespace pcloud::shell {

namespace {

volatile sig_atomic_t interrupted = 0;

void on_sigint(int) {
  interrupted = 1;
}

} // namespace

msg::error print_help(const std::vector<std::string>& args) {
  if (args.empty()) {
    for (auto& cmd : msg::commands()) {
      std::printf("  %-48s %s\n", msg::usage_of(cmd).c_str(), cmd.summary);
    }
    return {};
  }
  auto* cmd = msg::find_command(args[0]);
  if (cmd == nullptr) {
    return {msg::errc::invalid_argument, "no command '" + args[0] + "'"};
  }
  std::printf("%s\n  %s\n", msg::usage_of(*cmd).c_str(), cmd->summary);
  return {};
}

int report_failure(const msg::error& err, bool json) {
  if (json) {
    std::cout << render_json(msg::failed_reply(err)) << std::endl;
  }
  std::fprintf(stderr, "pcloudsh: %s\n", err.message.c_str());
  return msg::exit_status(err.code);
}

session::session(caf::actor_system& sys, options opts,
                 std::unique_ptr<client> c)
    : sys_(sys), opts_(std::move(opts)), client_(std::move(c)),
      events_(std::make_shared<event_queue>()) {
  if (!events_->open()) {
    std::fprintf(stderr, "pcloudsh: pipe: %s\n", std::strerror(errno));
    std::exit(msg::exit_status(msg::errc::internal));
  }
}

session::~session() {
  if (listener_) {
    caf::anon_send_exit(listener_, caf::exit_reason::user_shutdown);
  }
}

int session::run(const std::vector<std::string>& words) {
  const auto& name = words[0];
  std::vector<std::string> args(words.begin() + 1, words.end());
  auto* cmd = msg::find_command(name);
  if (cmd == nullptr) {
    return fail(msg::unknown_command(name));
  }
  if (args.size() < msg::required_arguments(*cmd)
      || args.size() > cmd->arguments.size()) {
    return fail(msg::errc::invalid_argument, "usage: " + msg::usage_of(*cmd));
  }
  if (name == "help") {
    if (auto bad = print_help(args)) {
      return fail(bad);
    }
    return 0;
  }
  if (name == "quit" || name == "exit") {
    quit_ = true;
    return 0;
  }
  if (name == "events") {
    return follow_events();
  }
  if (name == "assembly_console") {
    return console(args[0]);
  }
  // Builds and image copies take minutes; everything else answers at once.
  auto timeout = name == "jeos_create" || name == "jeos_import"
                   ? opts_.build_timeout
                   : opts_.timeout;
  std::optional<build_progress> progress;
  if (name == "jeos_create" && !opts_.json && ::isatty(STDERR_FILENO)) {
    progress.emplace(*client_, args[0]);
  }
  auto reply = client_->call(name, args, timeout);
  progress.reset();
  if (!reply.ok()) {
    return fail(reply.code, reply.message);
  }
  auto text = opts_.json ? render_json(reply) : render_text(reply);
  if (!text.empty()) {
    std::cout << text << std::endl;
  }
  return 0;
}

int session::script() {
  std::string line;
  size_t number = 0;
  while (std::getline(std::cin, line)) {
    ++number;
    std::vector<std::string> words;
    std::string error;
    if (!split_words(line, words, error)) {
      return fail(msg::errc::invalid_argument,
                  "line " + std::to_string(number) + ": " + error);
    }
    if (words.empty()) {
      continue;
    }
    if (auto rc = run(words); rc != 0) {
      std::fprintf(stderr, "pcloudsh: stopped at line %zu\n", number);
      return rc;
    }
    if (quit_) {
      break;
    }
  }
  return 0;
}

int session::fail(const msg::error& err) {
  return report_failure(err, opts_.json);
}

bool session::subscribe(msg::error& error) {
  if (listener_) {
    return true;
  }
  listener_ = spawn_listener(sys_, events_, client_->service());
  std::vector<msg::event> history;
  if (!client_->subscribe(listener_, history, error)) {
    return false;
  }
  for (auto& ev : history) {
    history_end_ = std::max(history_end_, ev.sequence);
    events_->push(ev);
  }
  return true;
}

int session::follow_events() {
  msg::error error;
  if (!subscribe(error)) {
    return fail(error);
  }
  interrupted = 0;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  struct sigaction old {};
  sigaction(SIGINT, &sa, &old);
  // The history first, then a line (text) or "replayed": false (JSON)
  // where the live stream begins; a Ctrl-C meanwhile only sets the flag.
  bool live = false;
  auto show = [&](const msg::event& ev) {
    auto replayed = ev.sequence <= history_end_;
    if (!replayed && !live) {
      live = true;
      if (!opts_.json) {
        std::cout << live_marker << std::endl;
      }
    }
    std::cout << event_line(ev, opts_.json, replayed) << std::endl;
  };
  for (auto& ev : events_->take()) {
    show(ev);
  }
  if (!live && !opts_.json) {
    live = true;
    std::cout << live_marker << std::endl;
  }
  int rc = 0;
  while (!interrupted) {
    pollfd pfd{events_->wake_fd(), POLLIN, 0};
    auto n = ::poll(&pfd, 1, 500);
    if (n < 0 && errno != EINTR) {
      break;
    }
    for (auto& ev : events_->take()) {
      show(ev);
    }
    if (events_->daemon_gone()) {
      rc = fail(msg::errc::unavailable, "pcloudd went away");
      break;
    }
  }
  sigaction(SIGINT, &old, nullptr);
  return rc;
}

} // namespace pcloud::shell
