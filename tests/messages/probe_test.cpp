// A resource's probe settings as pcloudsh takes them: each setting checked
// alone with an error that names it, the whole checked together, and what
// people read back.
#include <gtest/gtest.h>

#include "messages/definitions.hpp"

using namespace std::chrono_literals;
using namespace pcloud;

namespace {

/// The error of setting `setting` to `value` on a default http probe, and
/// that the probe stayed as it was.
std::string refusal(const std::string& setting, const std::string& value) {
  msg::probe_spec p;
  p.kind = "http";
  p.port = 80;
  auto before = p;
  auto err = msg::set_probe_setting(p, setting, value);
  if (!err) {
    err = msg::check_probe(p);
  } else {
    EXPECT_EQ(p, before) << setting << " changed on a refused value";
  }
  EXPECT_EQ(err.code, msg::errc::invalid_argument) << setting << "=" << value;
  return err.message;
}

TEST(probe, settings_build_a_probe_that_passes_the_check) {
  msg::probe_spec p;
  ASSERT_FALSE(msg::set_probe_setting(p, "url", "http://:8080/healthz"));
  ASSERT_FALSE(msg::set_probe_setting(p, "status", "200-299"));
  ASSERT_FALSE(msg::set_probe_setting(p, "body", "ok"));
  ASSERT_FALSE(msg::set_probe_setting(p, "timeout", "250ms"));
  ASSERT_FALSE(msg::set_probe_setting(p, "interval", "2s"));
  ASSERT_FALSE(msg::set_probe_setting(p, "failures", "5"));
  ASSERT_FALSE(msg::set_probe_setting(p, "initial_delay", "10s"));
  EXPECT_FALSE(msg::check_probe(p));
  EXPECT_EQ(p.kind, "http");
  EXPECT_EQ(p.port, 8080);
  EXPECT_EQ(p.path, "/healthz");
  EXPECT_EQ(msg::describe_probe(p),
            "http :8080/healthz status 200-299 body 'ok' every 2s, timeout "
            "250ms, 5 failures, after 10s");
  ASSERT_FALSE(msg::set_probe_setting(p, "kind", "none"));
  EXPECT_EQ(p, msg::probe_spec{});
  EXPECT_EQ(msg::describe_probe(p), "none");
}

TEST(probe, a_command_sets_its_kind) {
  msg::probe_spec p;
  ASSERT_FALSE(msg::set_probe_setting(p, "command", "pg_isready -q"));
  EXPECT_FALSE(msg::check_probe(p));
  EXPECT_EQ(msg::describe_probe(p), "command 'pg_isready -q' every 1s, "
                                    "timeout 500ms, 3 failures");
}

TEST(probe, impossible_settings_are_refused_naming_the_setting) {
  EXPECT_EQ(refusal("interval", "50ms"),
            "probe interval 50ms is outside 100ms-1h");
  EXPECT_EQ(refusal("interval", "soon"),
            "probe interval 'soon' is not a duration (such as 500ms, 1s)");
  EXPECT_EQ(refusal("timeout", "1s"),
            "probe timeout 1s is not below the interval (1s)");
  EXPECT_EQ(refusal("port", "0"),
            "probe port '0' is not a port number (1-65535)");
  EXPECT_EQ(refusal("port", "65536"),
            "probe port '65536' is not a port number (1-65535)");
  EXPECT_EQ(refusal("url", "http//:80/"),
            "probe url 'http//:80/' is not http://:PORT/PATH (the probe runs "
            "in the guest, against its loopback)");
  EXPECT_EQ(refusal("url", "http://example.com:80/"),
            "probe url 'http://example.com:80/' is not http://:PORT/PATH (the "
            "probe runs in the guest, against its loopback)");
  EXPECT_EQ(refusal("kind", "ping"),
            "probe kind 'ping' is not one of none, tcp, http, command");
  EXPECT_EQ(refusal("status", "600"),
            "probe status '600' is not a status or a range within 100-599 "
            "(200-399)");
  EXPECT_EQ(refusal("status", "399-200"),
            "probe status '399-200' is not a status or a range within "
            "100-599 (200-399)");
  EXPECT_EQ(refusal("failures", "0"),
            "probe failures '0' is not a number within 1-100");
  EXPECT_EQ(refusal("path", "healthz"),
            "probe path 'healthz' is not an absolute URL path");
  EXPECT_EQ(refusal("command", ""), "probe command is empty");
  EXPECT_EQ(refusal("body", std::string(2000, 'x')),
            "probe body is longer than 1024 bytes or has control characters");
  EXPECT_EQ(refusal("colour", "red"),
            "probe setting 'colour' is unknown (settings: kind, url, port, "
            "path, status, body, command, interval, timeout, failures, "
            "initial_delay)");
}

TEST(probe, settings_need_a_probe_and_a_new_kind_drops_the_command) {
  msg::probe_spec p;
  auto err = msg::set_probe_setting(p, "port", "8080");
  EXPECT_EQ(err.message,
            "probe port needs a probe first: set its kind, url or command");
  EXPECT_EQ(p, msg::probe_spec{});
  ASSERT_FALSE(msg::set_probe_setting(p, "command", "true"));
  ASSERT_FALSE(msg::set_probe_setting(p, "url", "http://:80/"));
  EXPECT_TRUE(p.command.empty()) << "an http probe kept a command";
}

TEST(probe, a_probe_without_its_target_is_incomplete) {
  msg::probe_spec p;
  ASSERT_FALSE(msg::set_probe_setting(p, "kind", "tcp"));
  EXPECT_EQ(msg::check_probe(p).message,
            "probe port is not set (a tcp probe needs one)");
  ASSERT_FALSE(msg::set_probe_setting(p, "kind", "command"));
  EXPECT_EQ(msg::check_probe(p).message, "probe command is not set");
}

} // namespace
