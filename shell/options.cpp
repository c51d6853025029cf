#include "shell/options.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace pcloud::shell {

void print_usage(FILE* out) {
  std::fprintf(
    out,
    "usage: pcloudsh [options] [COMMAND [ARGS...]]\n"
    "  --connect WHERE      pcloudd's unix socket (a path) or TCP listener\n"
    "                       (HOST:PORT); default /var/lib/pcloud/pcloudd.sock\n"
    "                       or $PCLOUDSH_CONNECT\n"
    "  --state-dir DIR      pcloudd's state directory: its token and, unless\n"
    "                       --connect is given, its socket\n"
    "  --token-file FILE    the token (default /var/lib/pcloud/shell.token,\n"
    "                       or $PCLOUDSH_TOKEN_FILE)\n"
    "  --tls-certificate FILE, --tls-key FILE, --tls-cafile FILE\n"
    "                       mutual TLS, for a pcloudd listening beyond\n"
    "                       loopback\n"
    "  --json               lists, status, events and errors as JSON\n"
    "  --help, --version\n"
    "Without a command: interactive on a terminal, else one command per\n"
    "line of standard input. 'pcloudsh help' lists the commands.\n"
    "Exit status: 0 ok, 1 internal error, 2 bad usage or argument, 3 pcloudd\n"
    "unavailable, 4 permission denied, 5 not found, 6 exists, 7 in use,\n"
    "8 wrong state (pcloudsh(1)).\n");
}

bool parse_endpoint(const std::string& text, endpoint& where) {
  if (!text.empty() && text[0] == '/') {
    where.socket = text;
    where.host.clear();
    where.port = 0;
    return true;
  }
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

msg::error parse_options(int argc, char** argv, options& opts) {
  auto invalid = [](std::string text) {
    return msg::error{msg::errc::invalid_argument, std::move(text)};
  };
  if (auto* env = std::getenv("PCLOUDSH_CONNECT")) {
    if (!parse_endpoint(env, opts.where)) {
      return invalid(std::string{"PCLOUDSH_CONNECT wants a socket path or "
                                 "HOST:PORT, not '"}
                     + env + "'");
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
    std::string value;
    auto take_value = [&]() {
      if (i + 1 >= argc) {
        return false;
      }
      value = argv[++i];
      return true;
    };
    static const char* const with_value[]
      = {"--connect",         "--state-dir", "--token-file",
         "--tls-certificate", "--tls-key",   "--tls-cafile"};
    auto needs_value
      = std::find(std::begin(with_value), std::end(with_value), arg)
        != std::end(with_value);
    if (needs_value && !take_value()) {
      return invalid(arg + " needs a value (--help lists the options)");
    }
    if (arg == "--help") {
      opts.show_help = true;
      return {};
    } else if (arg == "--version") {
      opts.show_version = true;
      return {};
    } else if (arg == "--connect") {
      if (!parse_endpoint(value, opts.where)) {
        return invalid("--connect wants a socket path or HOST:PORT, not '"
                       + value + "'");
      }
    } else if (arg == "--state-dir") {
      opts.token_file = value + "/shell.token";
      // An explicit --connect wins.
      if (!connect_given) {
        opts.where.socket = value + "/pcloudd.sock";
        opts.where.host.clear();
      }
    } else if (arg == "--token-file") {
      opts.token_file = value;
    } else if (arg == "--tls-certificate") {
      opts.tls_certificate = value;
    } else if (arg == "--tls-key") {
      opts.tls_key = value;
    } else if (arg == "--tls-cafile") {
      opts.tls_cafile = value;
    } else if (arg == "--json") {
      opts.json = true;
    } else {
      return invalid("unknown option '" + arg + "' (--help lists them)");
    }
  }
  for (; i < argc; ++i) {
    opts.command.push_back(argv[i]);
  }
  auto tls = !opts.tls_certificate.empty() + !opts.tls_key.empty()
             + !opts.tls_cafile.empty();
  if (tls != 0 && tls != 3) {
    return invalid("TLS needs --tls-certificate, --tls-key and --tls-cafile");
  }
  opts.where.tls = tls == 3;
  if (opts.where.tls && opts.where.host.empty()) {
    return invalid("TLS is for a TCP listener: --connect HOST:PORT");
  }
  return {};
}

bool split_words(const std::string& line, std::vector<std::string>& words,
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

} // namespace pcloud::shell
