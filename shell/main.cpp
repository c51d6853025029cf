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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <readline/history.h>
#include <readline/readline.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "messages/type_ids.hpp"
#include "shell/build_progress.hpp"
#include "shell/client.hpp"
#include "shell/render.hpp"

namespace {

using namespace std::chrono_literals;
using pcloud::shell::client;
namespace msg = pcloud::msg;

struct options {
  pcloud::shell::endpoint where;
  std::string token_file = "/var/lib/pcloud/shell.token";
  bool json = false;
  std::chrono::milliseconds connect_timeout = 5s;
  /// jeos_create can take long; everything else answers at once.
  std::chrono::milliseconds build_timeout = 60min;
  std::chrono::milliseconds timeout = 120s;
  std::vector<std::string> command;
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_cafile;
};

void usage(FILE* out) {
  std::fprintf(
    out,
    "usage: pcloudsh [options] [COMMAND [ARGS...]]\n"
    "  --connect HOST:PORT  pcloudd's shell service (default 127.0.0.1:7460,\n"
    "                       or $PCLOUDSH_CONNECT)\n"
    "  --state-dir DIR      pcloudd's state directory: its token and, unless\n"
    "                       --connect is given, its address\n"
    "  --token-file FILE    the token (default /var/lib/pcloud/shell.token,\n"
    "                       or $PCLOUDSH_TOKEN_FILE)\n"
    "  --tls-certificate FILE, --tls-key FILE, --tls-cafile FILE\n"
    "                       mutual TLS, for a pcloudd listening beyond\n"
    "                       loopback\n"
    "  --json               lists, status and events as JSON\n"
    "  --help, --version\n"
    "Without a command: interactive on a terminal, else one command per\n"
    "line of standard input. 'pcloudsh help' lists the commands.\n"
    "Exit status: 0 ok, 1 internal error, 2 bad usage or argument, 3 pcloudd\n"
    "unavailable, 4 permission denied, 5 not found, 6 exists, 7 in use,\n"
    "8 wrong state (pcloudsh(1)).\n");
}

[[noreturn]] void die(msg::errc code, const std::string& message) {
  std::fprintf(stderr, "pcloudsh: %s\n", message.c_str());
  std::exit(msg::exit_status(code));
}

bool parse_endpoint(const std::string& text, pcloud::shell::endpoint& where) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return false;
  }
  auto port = text.substr(colon + 1);
  if (port.size() > 5
      || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return false;
  }
  where.host = text.substr(0, colon);
  where.port = static_cast<uint16_t>(std::stoul(port));
  return true;
}

options parse(int argc, char** argv) {
  options opts;
  if (auto* env = std::getenv("PCLOUDSH_CONNECT")) {
    if (!parse_endpoint(env, opts.where)) {
      die(msg::errc::invalid_argument,
          std::string{"PCLOUDSH_CONNECT wants HOST:PORT, not '"} + env + "'");
    }
  }
  if (auto* env = std::getenv("PCLOUDSH_TOKEN_FILE")) {
    opts.token_file = env;
  }
  bool connect_given = false;
  for (int j = 1; j < argc; ++j) {
    if (std::strcmp(argv[j], "--connect") == 0) {
      connect_given = true;
    }
  }
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      break;
    }
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        die(msg::errc::invalid_argument,
            arg + " needs a value (--help lists the options)");
      }
      return argv[++i];
    };
    if (arg == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("pcloudsh %s\n", PCLOUD_VERSION);
      std::exit(0);
    } else if (arg == "--connect") {
      auto text = value();
      if (!parse_endpoint(text, opts.where)) {
        die(msg::errc::invalid_argument,
            "--connect wants HOST:PORT, not '" + text + "'");
      }
    } else if (arg == "--state-dir") {
      auto dir = value();
      opts.token_file = dir + "/shell.token";
      // pcloudd writes where it listens; an explicit --connect wins.
      std::ifstream in{dir + "/shell.address"};
      std::string address;
      if (!connect_given && std::getline(in, address)
          && !parse_endpoint(address, opts.where)) {
        die(msg::errc::invalid_argument, dir + "/shell.address: not HOST:PORT");
      }
    } else if (arg == "--token-file") {
      opts.token_file = value();
    } else if (arg == "--tls-certificate") {
      opts.tls_certificate = value();
    } else if (arg == "--tls-key") {
      opts.tls_key = value();
    } else if (arg == "--tls-cafile") {
      opts.tls_cafile = value();
    } else if (arg == "--json") {
      opts.json = true;
    } else {
      die(msg::errc::invalid_argument,
          "unknown option '" + arg + "' (--help lists them)");
    }
  }
  for (; i < argc; ++i) {
    opts.command.push_back(argv[i]);
  }
  auto tls = !opts.tls_certificate.empty() + !opts.tls_key.empty()
             + !opts.tls_cafile.empty();
  if (tls != 0 && tls != 3) {
    die(msg::errc::invalid_argument,
        "TLS needs --tls-certificate, --tls-key and --tls-cafile");
  }
  opts.where.tls = tls == 3;
  return opts;
}

class shell_config : public caf::actor_system_config {
public:
  explicit shell_config(const options& opts) {
    msg::add_message_types(*this);
    load<caf::io::middleman>();
    if (opts.where.tls) {
      load<caf::openssl::manager>();
      set("openssl.certificate", opts.tls_certificate);
      set("openssl.key", opts.tls_key);
      set("openssl.cafile", opts.tls_cafile);
    }
    set("scheduler.max-threads", 1);
    set("logger.verbosity", caf::atom("quiet"));
    // Must match pcloudd's (PLATFORM.md: one side alone drops the peer).
    set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(2)});
    set("middleman.connection-timeout",
        caf::timespan{std::chrono::seconds(10)});
  }
};

/// Splits a line into words; "double" and 'single' quotes keep spaces.
bool split(const std::string& line, std::vector<std::string>& words,
           std::string& error) {
  words.clear();
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) {
        words.push_back(word);
        word.clear();
        in_word = false;
      }
    } else if (c == '#' && !in_word) {
      break;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) {
    error = std::string{"unterminated "} + quote + " quote";
    return false;
  }
  if (in_word) {
    words.push_back(word);
  }
  return true;
}

/// `help [COMMAND]`: every command, or one with its arguments.
int help(const std::vector<std::string>& args) {
  if (args.empty()) {
    for (auto& cmd : msg::commands()) {
      std::printf("  %-48s %s\n", msg::usage_of(cmd).c_str(), cmd.summary);
    }
    return 0;
  }
  auto* cmd = msg::find_command(args[0]);
  if (cmd == nullptr) {
    std::fprintf(stderr, "pcloudsh: no command '%s'\n", args[0].c_str());
    return msg::exit_status(msg::errc::invalid_argument);
  }
  std::printf("%s\n  %s\n", msg::usage_of(*cmd).c_str(), cmd->summary);
  return 0;
}

// -- events
// --------------------------------------------------------------------

/// Events from the listener actor, handed to the thread that prints them.
struct event_queue {
  std::mutex mtx;
  std::deque<msg::event> items;
  int wake[2] = {-1, -1};
  bool daemon_gone = false;
  uint64_t shown = 0;

  void push(msg::event ev) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      items.push_back(std::move(ev));
    }
    char c = 'e';
    (void)!::write(wake[1], &c, 1);
  }

  void gone() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      daemon_gone = true;
    }
    char c = 'x';
    (void)!::write(wake[1], &c, 1);
  }

  std::vector<msg::event> take() {
    char buf[256];
    while (::read(wake[0], buf, sizeof(buf)) > 0) {
      // drained
    }
    std::lock_guard<std::mutex> guard{mtx};
    std::vector<msg::event> result;
    for (auto& ev : items) {
      // The history and the live stream may overlap.
      if (ev.sequence > shown) {
        shown = ev.sequence;
        result.push_back(ev);
      }
    }
    items.clear();
    return result;
  }
};

msg::event_listener_actor spawn_listener(caf::actor_system& sys,
                                         std::shared_ptr<event_queue> q,
                                         const msg::shell_service_actor& svc) {
  // Values as arguments, not captures: CAF 0.17 dereferences a null argument
  // tuple for a lambda spawned without arguments.
  return sys.spawn(
    [](msg::event_listener_actor::pointer self, std::shared_ptr<event_queue> q,
       msg::shell_service_actor svc)
      -> msg::event_listener_actor::behavior_type {
      self->monitor(svc);
      self->set_down_handler([q](const caf::down_msg&) { q->gone(); });
      return {[q](const msg::event& ev) { q->push(ev); }};
    },
    q, svc);
}

std::string event_line(const msg::event& ev, bool json) {
  return json ? pcloud::shell::render_event_json(ev)
              : pcloud::shell::render_event(ev);
}

volatile sig_atomic_t interrupted = 0;

void on_sigint(int) {
  interrupted = 1;
}

// -- the session
// ---------------------------------------------------------------

class session {
public:
  session(caf::actor_system& sys, options opts, std::unique_ptr<client> c)
      : sys_(sys), opts_(std::move(opts)), client_(std::move(c)),
        events_(std::make_shared<event_queue>()) {
    if (::pipe2(events_->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
      die(msg::errc::internal, "pipe: " + std::string{std::strerror(errno)});
    }
  }

  ~session() {
    if (listener_) {
      caf::anon_send_exit(listener_, caf::exit_reason::user_shutdown);
    }
  }

  /// Runs one command; prints its result. Returns the exit status.
  int run(const std::vector<std::string>& words) {
    const auto& name = words[0];
    std::vector<std::string> args(words.begin() + 1, words.end());
    auto* cmd = msg::find_command(name);
    if (cmd == nullptr) {
      return fail(msg::errc::invalid_argument,
                  "unknown command '" + name + "' (help lists the commands)");
    }
    if (args.size() < msg::required_arguments(*cmd)
        || args.size() > cmd->arguments.size()) {
      return fail(msg::errc::invalid_argument, "usage: " + msg::usage_of(*cmd));
    }
    if (name == "help") {
      return help(args);
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
    auto timeout = name == "jeos_create" ? opts_.build_timeout : opts_.timeout;
    std::optional<pcloud::shell::build_progress> progress;
    if (name == "jeos_create" && !opts_.json && ::isatty(STDERR_FILENO)) {
      progress.emplace(*client_, args[0]);
    }
    auto reply = client_->call(name, args, timeout);
    progress.reset();
    if (!reply.ok()) {
      return fail(reply.code, reply.message);
    }
    auto text = opts_.json ? pcloud::shell::render_json(reply)
                           : pcloud::shell::render_text(reply);
    if (!text.empty()) {
      std::cout << text << std::endl;
    }
    return 0;
  }

  /// One command per line of standard input; stops at the first failure.
  int script() {
    std::string line;
    size_t number = 0;
    while (std::getline(std::cin, line)) {
      ++number;
      std::vector<std::string> words;
      std::string error;
      if (!split(line, words, error)) {
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

  int interactive();

  client& remote() { return *client_; }

private:
  /// Prints the error (also as JSON with --json); returns its exit status.
  int fail(msg::errc code, const std::string& message) {
    return fail(msg::error{code, message});
  }

  int fail(const msg::error& err) {
    if (opts_.json) {
      std::cout << pcloud::shell::render_json(msg::failed_reply(err))
                << std::endl;
    }
    std::fprintf(stderr, "pcloudsh: %s\n", err.message.c_str());
    return msg::exit_status(err.code);
  }

  bool subscribe(msg::error& error) {
    if (listener_) {
      return true;
    }
    listener_ = spawn_listener(sys_, events_, client_->service());
    std::vector<msg::event> history;
    if (!client_->subscribe(listener_, history, error)) {
      return false;
    }
    for (auto& ev : history) {
      events_->push(ev);
    }
    return true;
  }

  /// `events`: the recent history, then every event until Ctrl-C.
  int follow_events() {
    msg::error error;
    if (!subscribe(error)) {
      return fail(error);
    }
    interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    struct sigaction old {};
    sigaction(SIGINT, &sa, &old);
    int rc = 0;
    while (!interrupted) {
      pollfd pfd{events_->wake[0], POLLIN, 0};
      auto n = ::poll(&pfd, 1, 500);
      if (n < 0 && errno != EINTR) {
        break;
      }
      for (auto& ev : events_->take()) {
        std::cout << event_line(ev, opts_.json) << std::endl;
      }
      std::lock_guard<std::mutex> guard{events_->mtx};
      if (events_->daemon_gone) {
        rc = fail(msg::errc::unavailable, "pcloudd went away");
        break;
      }
    }
    sigaction(SIGINT, &old, nullptr);
    return rc;
  }

  /// `assembly_console NAME`: the guest's serial console until Ctrl-] (or
  /// the end of standard input when it is not a terminal).
  int console(const std::string& assembly) {
    struct output {
      std::mutex mtx;
      std::string bytes;
      std::string closed;
      int wake[2] = {-1, -1};
      void push(const std::string& x, bool end) {
        {
          std::lock_guard<std::mutex> guard{mtx};
          (end ? closed : bytes) += x;
        }
        char c = 'o';
        (void)!::write(wake[1], &c, 1);
      }
    };
    auto out = std::make_shared<output>();
    if (::pipe2(out->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
      return fail(msg::errc::internal,
                  "pipe: " + std::string{std::strerror(errno)});
    }
    auto listener = sys_.spawn(
      [](msg::console_listener_actor::pointer, std::shared_ptr<output> out)
        -> msg::console_listener_actor::behavior_type {
        return {
          [out](msg::console_atom, const std::string& bytes) {
            out->push(bytes, false);
          },
          [out](caf::close_atom, const std::string& why) {
            out->push(why.empty() ? "closed" : why, true);
          },
        };
      },
      out);
    msg::error error;
    auto id = client_->open_console(assembly, listener, error);
    if (id == 0) {
      caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
      return fail(error);
    }
    bool tty = ::isatty(STDIN_FILENO);
    termios saved{};
    if (tty) {
      std::fprintf(stderr,
                   "Connected to the console of %s. Ctrl-] detaches.\r\n",
                   assembly.c_str());
      ::tcgetattr(STDIN_FILENO, &saved);
      auto raw = saved;
      ::cfmakeraw(&raw);
      ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    // A guest shell answers a newline with its prompt.
    client_->console_input(id, "\n");
    int rc = 0;
    bool in_open = true;
    auto linger = std::chrono::steady_clock::time_point::max();
    for (;;) {
      pollfd fds[2]
        = {{in_open ? STDIN_FILENO : -1, POLLIN, 0}, {out->wake[0], POLLIN, 0}};
      int wait_ms = -1;
      if (!in_open) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          linger - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          break;
        }
        wait_ms = static_cast<int>(left.count());
      }
      if (::poll(fds, 2, wait_ms) < 0 && errno != EINTR) {
        break;
      }
      if (fds[1].revents & POLLIN) {
        char buf[64];
        while (::read(out->wake[0], buf, sizeof(buf)) > 0) {
          // drained
        }
        std::string bytes, closed;
        {
          std::lock_guard<std::mutex> guard{out->mtx};
          bytes.swap(out->bytes);
          closed = out->closed;
        }
        (void)!::write(STDOUT_FILENO, bytes.data(), bytes.size());
        if (!closed.empty()) {
          if (tty) {
            ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
          }
          tty = false;
          rc = fail(msg::errc::unavailable, closed);
          break;
        }
      }
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        char buf[256];
        auto n = ::read(STDIN_FILENO, buf, sizeof(buf));
        if (n <= 0) {
          if (tty) {
            break;
          }
          // Not a terminal: the input is done; give the guest a moment
          // to answer what it was sent, then detach.
          in_open = false;
          linger = std::chrono::steady_clock::now() + 2s;
          continue;
        }
        std::string typed(buf, static_cast<size_t>(n));
        auto detach = typed.find('\x1d');
        if (detach != std::string::npos) {
          typed.resize(detach);
        }
        if (!typed.empty()) {
          client_->console_input(id, typed);
        }
        if (detach != std::string::npos) {
          break;
        }
      }
    }
    if (tty) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
      std::fprintf(stderr, "\nDetached from the console of %s.\n",
                   assembly.c_str());
    }
    client_->close_console(id);
    caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
    ::close(out->wake[0]);
    ::close(out->wake[1]);
    return rc;
  }

  friend char** complete(const char*, int, int);

  caf::actor_system& sys_;
  options opts_;
  std::unique_ptr<client> client_;
  std::shared_ptr<event_queue> events_;
  msg::event_listener_actor listener_;
  bool quit_ = false;

public:
  bool quit_requested() const { return quit_; }
  std::shared_ptr<event_queue> events() { return events_; }
  bool start_events(msg::error& error) { return subscribe(error); }
  const options& opts() const { return opts_; }
};

// -- interactive mode
// ------------------------------------------------------------

session* current = nullptr;
std::vector<std::string> candidates;

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
  split(before, words, error);
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

bool line_done = false;
std::string done_line;
bool got_eof = false;

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
void print_events(session& s) {
  auto evs = s.events()->take();
  if (evs.empty()) {
    return;
  }
  auto saved_point = rl_point;
  char* saved_line = rl_copy_text(0, rl_end);
  rl_save_prompt();
  rl_replace_line("", 0);
  rl_redisplay();
  for (auto& ev : evs) {
    std::cout << "\r" << event_line(ev, s.opts().json) << std::endl;
  }
  rl_restore_prompt();
  rl_replace_line(saved_line, 0);
  rl_point = saved_point;
  rl_redisplay();
  free(saved_line);
}

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
  std::printf("pcloudsh: connected to %s:%u. 'help' lists the commands; "
              "events show as they happen.\n",
              opts_.where.host.c_str(), opts_.where.port);
  rl_callback_handler_install("pcloudsh> ", on_line);
  int last = 0;
  while (!quit_) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {events_->wake[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (fds[1].revents & POLLIN) {
      print_events(*this);
      std::lock_guard<std::mutex> guard{events_->mtx};
      if (events_->daemon_gone) {
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
    if (!split(done_line, words, bad_quote)) {
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
      last = run(words);
    }
    if (!quit_) {
      rl_callback_handler_install("pcloudsh> ", on_line);
    }
  }
  rl_callback_handler_remove();
  write_history(history_file.c_str());
  return last == 0 ? 0 : 0;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);
  if (!opts.command.empty()) {
    // Commands that need no daemon.
    auto* cmd = msg::find_command(opts.command[0]);
    if (cmd == nullptr) {
      die(msg::errc::invalid_argument,
          "unknown command '" + opts.command[0] + "' (help lists them)");
    }
    if (opts.command[0] == "help") {
      return help({opts.command.begin() + 1, opts.command.end()});
    }
  }
  std::string error;
  if (!pcloud::shell::read_token(opts.token_file, opts.where.token, error)) {
    die(msg::errc::permission_denied, error);
  }
  shell_config cfg{opts};
  caf::actor_system sys{cfg};
  auto c = client::connect(sys, opts.where, opts.connect_timeout, error);
  if (!c) {
    die(msg::errc::unavailable, error);
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
