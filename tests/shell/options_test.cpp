// pcloudsh's command line and line splitting, as plain functions.
#include "shell/options.hpp"

#include <gtest/gtest.h>

using namespace pcloud;
using namespace pcloud::shell;
using msg::errc;

namespace {

msg::error parse(std::vector<std::string> words, options& opts) {
  std::vector<char*> argv;
  std::string name = "pcloudsh";
  argv.push_back(name.data());
  for (auto& w : words) {
    argv.push_back(w.data());
  }
  return parse_options(static_cast<int>(argv.size()), argv.data(), opts);
}

} // namespace

TEST(pcloudsh_options, options_come_before_the_command) {
  options opts;
  ASSERT_FALSE(parse(
    {"--connect", "10.0.0.1:7000", "--json", "assembly_list", "--json"}, opts));
  EXPECT_EQ(opts.where.host, "10.0.0.1");
  EXPECT_EQ(opts.where.port, 7000);
  EXPECT_TRUE(opts.json);
  EXPECT_EQ(opts.command,
            (std::vector<std::string>{"assembly_list", "--json"}));
  EXPECT_FALSE(opts.where.tls);
}

TEST(pcloudsh_options, the_unix_socket_is_the_default_and_follows_state_dir) {
  options opts;
  ASSERT_FALSE(parse({"deployable_list"}, opts));
  EXPECT_EQ(opts.where.socket, "/var/lib/pcloud/pcloudd.sock");
  EXPECT_TRUE(opts.where.host.empty());
  EXPECT_EQ(describe(opts.where), "/var/lib/pcloud/pcloudd.sock");
  ASSERT_FALSE(parse({"--state-dir", "/srv/pc", "deployable_list"}, opts));
  EXPECT_EQ(opts.where.socket, "/srv/pc/pcloudd.sock");
  EXPECT_EQ(opts.token_file, "/srv/pc/shell.token");
  // An explicit --connect wins, before or after --state-dir.
  options tcp;
  ASSERT_FALSE(parse({"--connect", "h:7", "--state-dir", "/srv/pc"}, tcp));
  EXPECT_EQ(describe(tcp.where), "h:7");
  options path;
  ASSERT_FALSE(
    parse({"--state-dir", "/srv/pc", "--connect", "/run/p.sock"}, path));
  EXPECT_EQ(describe(path.where), "/run/p.sock");
}

TEST(pcloudsh_options, mistakes_are_one_line_invalid_arguments) {
  struct bad {
    std::vector<std::string> words;
    std::string message;
  };
  for (auto& c : std::vector<bad>{
         {{"--bogus"}, "unknown option '--bogus' (--help lists them)"},
         {{"--connect"}, "--connect needs a value (--help lists the options)"},
         {{"--connect", "host"},
          "--connect wants a socket path or HOST:PORT, not 'host'"},
         {{"--connect", "h:0"},
          "--connect wants a socket path or HOST:PORT, not 'h:0'"},
         {{"--connect", "h:65536"},
          "--connect wants a socket path or HOST:PORT, not 'h:65536'"},
         {{"--connect", "relative.sock"},
          "--connect wants a socket path or HOST:PORT, not 'relative.sock'"},
         {{"--tls-key", "k.pem", "--tls-certificate", "c.pem", "--tls-cafile",
           "ca.pem"},
          "TLS is for a TCP listener: --connect HOST:PORT"},
         {{"--tls-key", "k.pem"},
          "TLS needs --tls-certificate, --tls-key and --tls-cafile"},
       }) {
    options opts;
    auto err = parse(c.words, opts);
    EXPECT_EQ(err.code, errc::invalid_argument) << c.words[0];
    EXPECT_EQ(err.message, c.message);
  }
  options opts;
  EXPECT_FALSE(parse({"--help", "--bogus"}, opts));
  EXPECT_TRUE(opts.show_help);
}

TEST(pcloudsh_options, lines_split_into_words_with_quotes_and_comments) {
  std::vector<std::string> words;
  std::string error;
  ASSERT_TRUE(split_words("a  'b c' \"d\"e # f g", words, error));
  EXPECT_EQ(words, (std::vector<std::string>{"a", "b c", "de"}));
  ASSERT_TRUE(split_words("   # only a comment", words, error));
  EXPECT_TRUE(words.empty());
  EXPECT_FALSE(split_words("a 'b", words, error));
  EXPECT_EQ(error, "unterminated ' quote");
}
