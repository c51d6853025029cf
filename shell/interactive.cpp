// pcloudsh on a terminal: readline with history and Tab completion of
// commands and names (asked of pcloudd), and events printed above the line
// being typed as they happen.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <readline/history.h>
#include <readline/readline.h>

#include "shell/session.hpp"

namespace pcloud::shell {

namespace {

using namespace std::chrono_literals;

// readline's callbacks take no context: the one session and its state.
session* current = nullptr;
std::vector<std::string> candidates;
bool line_done = false;
std::string done_line;
bool got_eof = false;

/// Names of one kind, fetched from pcloudd when completion needs them.
std::vector<std::string> names_of(msg::argument_kind kind) {
  std::string command;
  switch (kind) {
  case msg::argument_kind::assembly:
    command = "assembly_list";
    break;
  case msg::argument_kind::deployable:
    command = "deployable_list";
    break;
  case msg::argument_kind::template_name:
    command = "template_list";
    break;
  case msg::argument_kind::jeos:
  case msg::argument_kind::distro:
    command = "jeos_list";
    break;
  case msg::argument_kind::arch:
    return {"x86_64"};
  default:
    return {};
  }
  auto reply = current->remote().call(command, {}, 5s);
  std::vector<std::string> result;
  for (auto& row : reply.rows) {
    if (!row.empty()
        && std::find(result.begin(), result.end(), row[0]) == result.end()) {
      result.push_back(row[0]);
    }
  }
  return result;
}

char* next_candidate(const char* text, int state) {
  static size_t index;
  if (state == 0) {
    index = 0;
  }
  std::string prefix = text;
  while (index < candidates.size()) {
    auto& x = candidates[index++];
    if (x.rfind(prefix, 0) == 0) {
      return strdup(x.c_str());
    }
  }
  return nullptr;
}

char** complete(const char* text, int start, int) {
  rl_attempted_completion_over = 1;
  std::vector<std::string> words;
  std::string error;
  std::string before(rl_line_buffer, static_cast<size_t>(start));
  split_words(before, words, error);
  candidates.clear();
  if (words.empty()) {
    for (auto& cmd : msg::commands()) {
      candidates.push_back(cmd.name);
    }
  } else if (auto* cmd = msg::find_command(words[0])) {
    auto position = words.size() - 1;
    if (words[0] == "help") {
      for (auto& c : msg::commands()) {
        candidates.push_back(c.name);
      }
    } else if (position < cmd->kinds.size()) {
      candidates = names_of(cmd->kinds[position]);
    }
  }
  return rl_completion_matches(text, next_candidate);
}

void on_line(char* line) {
  if (line == nullptr) {
    got_eof = true;
  } else {
    done_line = line;
    free(line);
  }
  line_done = true;
}

/// Prints events above the line being typed, then redraws it.
void print_events(event_queue& events, bool json) {
  auto evs = events.take();
  if (evs.empty()) {
    return;
  }
  auto saved_point = rl_point;
  char* saved_line = rl_copy_text(0, rl_end);
  rl_save_prompt();
  rl_replace_line("", 0);
  rl_redisplay();
  for (auto& ev : evs) {
    std::cout << "\r" << event_line(ev, json) << std::endl;
  }
  rl_restore_prompt();
  rl_replace_line(saved_line, 0);
  rl_point = saved_point;
  rl_redisplay();
  free(saved_line);
}

} // namespace

int session::interactive() {
  current = this;
  msg::error error;
  if (!subscribe(error)) {
    return fail(error);
  }
  // The history so far is old news: show only what happens from now on.
  events_->take();
  rl_attempted_completion_function = complete;
  rl_readline_name = "pcloudsh";
  auto history_file
    = std::string{std::getenv("HOME") ? std::getenv("HOME") : "/root"}
      + "/.pcloudsh_history";
  read_history(history_file.c_str());
  std::printf("pcloudsh: connected to %s. 'help' lists the commands; "
              "events show as they happen.\n",
              describe(opts_.where).c_str());
  rl_callback_handler_install("pcloudsh> ", on_line);
  while (!quit_) {
    pollfd fds[2]
      = {{STDIN_FILENO, POLLIN, 0}, {events_->wake_fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (fds[1].revents & POLLIN) {
      print_events(*events_, opts_.json);
      if (events_->daemon_gone()) {
        rl_callback_handler_remove();
        std::printf("\n");
        return fail(msg::errc::unavailable, "pcloudd went away");
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      rl_callback_read_char();
    }
    if (!line_done) {
      continue;
    }
    line_done = false;
    if (got_eof) {
      std::printf("\n");
      break;
    }
    std::vector<std::string> words;
    std::string bad_quote;
    if (!split_words(done_line, words, bad_quote)) {
      fail(msg::errc::invalid_argument, bad_quote);
      continue;
    }
    if (words.empty()) {
      continue;
    }
    add_history(done_line.c_str());
    rl_callback_handler_remove();
    if (words[0] == "events") {
      std::printf("events are shown live here already\n");
    } else {
      run(words);
    }
    if (!quit_) {
      rl_callback_handler_install("pcloudsh> ", on_line);
    }
  }
  rl_callback_handler_remove();
  write_history(history_file.c_str());
  // A command that failed was shown; leaving the shell is not a failure.
  return 0;
}

} // namespace pcloud::shell
